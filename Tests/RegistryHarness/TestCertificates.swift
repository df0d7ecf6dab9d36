import Foundation

/// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with `openssl`.
public struct TestCertificates: Sendable {
    public let caCertificate: String
    public let serverCertificate: String
    public let serverKey: String
    /// A client certificate and key signed by the same CA (for mutual TLS).
    public let clientCertificate: String
    public let clientKey: String

    static let openssl = "/usr/bin/openssl"

    /// Creates the files in `directory`.
    public static func make(in directory: String) throws -> TestCertificates {
        let ca = "\(directory)/ca.pem", caKey = "\(directory)/ca.key"
        try TestTools.runChecked(
            openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=pushctl test CA"
            ])
        /// A key and a certificate for `subject` signed by the CA: `DIR/NAME.pem` and `DIR/NAME.key`.
        func issue(_ name: String, subject: String, extensions: String) throws -> (certificate: String, key: String) {
            let cert = "\(directory)/\(name).pem", key = "\(directory)/\(name).key", csr = "\(directory)/\(name).csr"
            let ext = "\(directory)/\(name).ext"
            try TestTools.runChecked(
                openssl,
                [
                    "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", subject
                ])
            try extensions.write(toFile: ext, atomically: true, encoding: .utf8)
            try TestTools.runChecked(
                openssl,
                [
                    "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                    "-out", cert, "-days", "2", "-extfile", ext
                ])
            return (cert, key)
        }
        let server = try issue(
            "server", subject: "/CN=localhost", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        let client = try issue("client", subject: "/CN=pushctl test client", extensions: "extendedKeyUsage=clientAuth\n")
        return TestCertificates(
            caCertificate: ca, serverCertificate: server.certificate, serverKey: server.key,
            clientCertificate: client.certificate, clientKey: client.key)
    }
}
