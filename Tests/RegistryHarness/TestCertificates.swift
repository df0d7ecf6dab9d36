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
        let cert = "\(directory)/server.pem", key = "\(directory)/server.key", csr = "\(directory)/server.csr"
        let ext = "\(directory)/server.ext"
        try ChildProcesses.run(
            openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=pushctl test CA"
            ])
        try ChildProcesses.run(
            openssl,
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"
            ])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try ChildProcesses.run(
            openssl,
            [
                "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                "-out", cert, "-days", "2", "-extfile", ext
            ])
        let clientCert = "\(directory)/client.pem", clientKey = "\(directory)/client.key", clientCSR = "\(directory)/client.csr"
        let clientExt = "\(directory)/client.ext"
        try ChildProcesses.run(
            openssl,
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", clientKey, "-out", clientCSR, "-subj", "/CN=pushctl test client"
            ])
        try "extendedKeyUsage=clientAuth\n".write(toFile: clientExt, atomically: true, encoding: .utf8)
        try ChildProcesses.run(
            openssl,
            [
                "x509", "-req", "-in", clientCSR, "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
                "-out", clientCert, "-days", "2", "-extfile", clientExt
            ])
        return TestCertificates(
            caCertificate: ca, serverCertificate: cert, serverKey: key,
            clientCertificate: clientCert, clientKey: clientKey)
    }
}
