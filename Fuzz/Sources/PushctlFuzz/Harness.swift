#if !FUZZING
import Foundation
import FuzzTargets

/// The fallback when libFuzzer is not available (a toolchain without `-sanitize=fuzzer`): a
/// seeded mutation fuzzer. It starts from the committed corpus, mutates inputs with a
/// deterministic PRNG (the same `--seed` replays the same inputs), runs each through the target,
/// and stops after `--iterations` inputs or `--seconds`, whichever comes first. No coverage
/// feedback, so it finds less than libFuzzer; it still exercises the parsers on many malformed
/// inputs, and any crash leaves the input that caused it in `--artifacts`.
///
///     pushctl-fuzz <target> [--corpus DIR] [--seconds N] [--iterations N] [--seed N] [--artifacts DIR]
///     pushctl-fuzz <target> --replay FILE...
@main
struct Harness {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            fail("usage: pushctl-fuzz <\(names)> [--corpus DIR] [--seconds N] [--iterations N] [--seed N] [--artifacts DIR] | --replay FILE...")
        }
        arguments.removeFirst()
        var corpus = "Fuzz/corpus/\(name)"
        var seconds = 60.0
        var iterations = Int.max
        var seed: UInt64 = 1
        var artifacts = "."
        var replay: [String]?
        while !arguments.isEmpty {
            let flag = arguments.removeFirst()
            if flag == "--replay" { replay = arguments; break }
            guard let value = arguments.first else { fail("\(flag) needs a value") }
            arguments.removeFirst()
            switch flag {
            case "--corpus": corpus = value
            case "--seconds": seconds = Double(value) ?? seconds
            case "--iterations": iterations = Int(value) ?? iterations
            case "--seed": seed = UInt64(value) ?? seed
            case "--artifacts": artifacts = value
            default: fail("unknown option \(flag)")
            }
        }
        CrashCapture.install(path: "\(artifacts)/crash-\(name)")

        if let replay {
            for file in replay {
                guard let bytes = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
                CrashCapture.run(target, Array(bytes))
            }
            print("\(name): replayed \(replay.count) inputs")
            return
        }

        let seeds = loadCorpus(corpus)
        guard !seeds.isEmpty else { fail("no seeds in \(corpus)") }
        var random = SplitMix64(seed: seed)
        let mutator = Mutator(dictionary: Mutator.dictionary(for: target))
        let deadline = Date().addingTimeInterval(seconds)
        var done = 0
        // Every seed first, unchanged, then mutants of seeds (and of earlier mutants, kept in a
        // small pool so that mutations stack up).
        for input in seeds { CrashCapture.run(target, input); done += 1 }
        var pool = seeds
        while done < iterations {
            if done % 256 == 0, Date() >= deadline { break }
            let base = pool[Int(random.next() % UInt64(pool.count))]
            let other = seeds[Int(random.next() % UInt64(seeds.count))]
            let input = mutator.mutate(base, splicingWith: other, random: &random)
            CrashCapture.run(target, input)
            done += 1
            if random.next() % 16 == 0 {
                if pool.count < 512 { pool.append(input) } else { pool[Int(random.next() % 512)] = input }
            }
        }
        print("\(name): \(done) inputs, \(seeds.count) seeds, seed \(seed), no crash")
    }

    static func loadCorpus(_ directory: String) -> [[UInt8]] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.sorted().compactMap { FileManager.default.contents(atPath: directory + "/" + $0).map(Array.init) }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}

/// libFuzzer-like byte mutations plus a dictionary of tokens that matter to the parsers, so that
/// mutants stay close enough to JSON, YAML or a challenge header to get past the first byte.
struct Mutator {
    let dictionary: [[UInt8]]

    static func dictionary(for target: FuzzTarget) -> [[UInt8]] {
        let common = ["\"", "\\", "\\u0000", "\\ud800", "\u{0}", "\u{FF}", "\r\n", "9223372036854775808", "-1", "1e999", "0"]
        let specific: [String]
        switch target {
        case .manifest, .tags:
            specific = ["{", "}", "[", "]", ":", ",", "null", "true", "\"schemaVersion\"", "\"mediaType\"", "\"config\"",
                        "\"layers\"", "\"manifests\"", "\"digest\"", "\"size\"", "\"platform\"", "\"tags\"",
                        "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
                        "<http://h/v2/x/tags/list?n=1&last=a>; rel=\"next\"", "</v2/x/tags/list?last=z>; rel=next"]
        case .auth:
            specific = ["Bearer ", "Basic ", "realm=", "service=", "scope=", "=", ",", "\"", "\\\"", " ", "\t",
                        "realm=\"https://auth/token\"", "error=\"invalid_token\""]
        case .jobfile:
            specific = ["\n", ": ", "- ", "  ", "&a ", "*a", "<<: *a", "!!str ", "!!binary ", "---\n", "...\n", "? ",
                        "${REGISTRY}", "${UNSET}", "${TAG:-x}", "$${", "{", "}", "[", "]", "|\n", ">\n", "'", "#",
                        "version: 1\n", "registries:\n", "images:\n", "targets:\n", "tags:\n", "source: ", "oci:",
                        "docker://", "docker-archive:", "concurrency: ", "latest: ", "semver: ", "regex: ", "url: "]
        }
        return (common + specific).map { Array($0.utf8) }
    }

    func mutate(_ base: [UInt8], splicingWith other: [UInt8], random: inout SplitMix64) -> [UInt8] {
        var bytes = base
        for _ in 0..<(1 + random.below(4)) {
            switch random.below(9) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let i = random.below(bytes.count)
                bytes[i] ^= UInt8(1) << UInt8(random.below(8))
            case 1 where !bytes.isEmpty:  // set a byte
                bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            case 2:  // insert a byte
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: random.below(bytes.count + 1))
            case 3 where !bytes.isEmpty:  // delete a range
                let start = random.below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.below(16)))
            case 4 where !bytes.isEmpty:  // duplicate a range (deep nesting, repeated keys)
                let start = random.below(bytes.count)
                let chunk = Array(bytes[start..<min(bytes.count, start + 1 + random.below(64))])
                let times = 1 + random.below(random.below(8) == 0 ? 64 : 4)
                bytes.insert(contentsOf: Array(repeating: chunk, count: times).joined(), at: random.below(bytes.count + 1))
            case 5, 6:  // insert or overwrite with a dictionary token
                let token = dictionary[random.below(dictionary.count)]
                let at = random.below(bytes.count + 1)
                if random.below(2) == 0 || at + token.count > bytes.count {
                    bytes.insert(contentsOf: token, at: at)
                } else {
                    bytes.replaceSubrange(at..<(at + token.count), with: token)
                }
            case 7 where !other.isEmpty:  // splice: our head, another seed's tail
                let cut = random.below(bytes.count + 1)
                let from = random.below(other.count)
                bytes = Array(bytes[..<cut]) + Array(other[from...])
            case 8 where bytes.count > 1:  // truncate
                bytes.removeLast(random.below(bytes.count))
            default:
                break
            }
        }
        // Keep inputs small: the parsers' size limits are tested elsewhere, and small inputs are fast.
        if bytes.count > 64 * 1024 { bytes.removeLast(bytes.count - 64 * 1024) }
        return bytes
    }
}

/// Leaves the input being run in a file when the process dies on a trap or a fatal signal, so a
/// crash can be replayed (`--replay`) and turned into a regression test.
enum CrashCapture {
    nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    nonisolated(unsafe) static var capacity = 1
    nonisolated(unsafe) static var count = 0
    nonisolated(unsafe) static var path: UnsafeMutablePointer<CChar>?

    static func install(path: String) {
        Self.path = strdup(path)
        for signal in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE] {
            _ = Foundation.signal(signal) { number in
                // Only async-signal-safe calls: open, write, close, then die of the same signal.
                if let path = CrashCapture.path {
                    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    if fd >= 0 {
                        _ = write(fd, CrashCapture.buffer, CrashCapture.count)
                        close(fd)
                    }
                }
                Foundation.signal(number, SIG_DFL)
                raise(number)
            }
        }
    }

    static func run(_ target: FuzzTarget, _ input: [UInt8]) {
        if input.count > capacity {
            buffer.deallocate()
            capacity = input.count
            buffer = .allocate(capacity: capacity)
        }
        input.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { buffer.update(from: base, count: input.count) }
        }
        count = input.count
        target.run(input)
    }
}
#endif
