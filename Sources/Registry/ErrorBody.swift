import Foundation

/// Parses a distribution error body `{"errors":[{"code":…,"message":…,"detail":…}]}`;
/// anything else yields no codes.
enum ErrorBody {
    static func parse(_ bytes: [UInt8]) -> [RegistryErrorCode] {
        guard !bytes.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? [String: Any],
            let errors = object["errors"] as? [[String: Any]]
        else { return [] }
        return errors.compactMap { entry in
            guard let code = entry["code"] as? String else { return nil }
            var detail: String?
            if let value = entry["detail"], !(value is NSNull) {
                if let text = value as? String {
                    detail = text
                } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    detail = String(decoding: data, as: UTF8.self)
                }
            }
            return RegistryErrorCode(code: code, message: entry["message"] as? String ?? "", detail: detail)
        }
    }
}
