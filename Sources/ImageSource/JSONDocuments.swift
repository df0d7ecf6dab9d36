import Foundation
import OCI

/// Decodes a JSON document of a source, turning Foundation's errors into a `SourceError` that names
/// the file, and the line and column (syntax errors) or the key path (shape errors) at fault.
func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String, file: String) throws(SourceError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as DecodingError {
        throw .invalidJSON(source: source, file: file, detail: JSONDiagnostics.describe(error, bytes: bytes))
    } catch {
        throw .invalidJSON(source: source, file: file, detail: String(describing: error))
    }
}
