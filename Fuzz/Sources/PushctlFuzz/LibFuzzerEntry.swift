#if FUZZING
import Foundation
import FuzzTargets

/// libFuzzer's entry points (built with `-sanitize=fuzzer,address -DFUZZING`, see `scripts/fuzz`).
/// One binary serves every target; `PUSHCTL_FUZZ_TARGET` names the one this run fuzzes, since
/// libFuzzer's own command line is its flags and corpus folders.
private let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["PUSHCTL_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fatalError("set PUSHCTL_FUZZ_TARGET to one of: \(names)")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected.run(bytes)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable with `--defsym main=<module>_main` (its entry point renamed so that
/// tests can link the module), which takes `main` away from libFuzzer's own. This is that symbol,
/// and it hands over to libFuzzer's driver as libFuzzer's `main` would.
@_cdecl("PushctlFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#endif
