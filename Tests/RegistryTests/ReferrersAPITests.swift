import Curl
import Foundation
import OCI
import Testing
@testable import Registry

/// The referrers API client (distribution spec 1.1) against a scripted registry: pages, the
/// `artifactType` filter (applied by the registry or here), and "no API" answers.
struct ReferrersAPITests {
    typealias Scripted = ScriptedTransportTests.ScriptedTransport
    let subject = Digest.of(Array("subject".utf8))

    func page(_ entries: [(String, String)]) -> [UInt8] {
        let items = entries.map { name, type in
            #"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(Digest.of(Array(name.utf8)))","size":10,"artifactType":"\#(type)"}"#
        }
        return Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\#(items.joined(separator: ","))]}"#
                .utf8)
    }

    @Test func everyPageIsReadAndAnUnappliedFilterIsAppliedHere() throws {
        let first = page([("sbom", "application/spdx+json"), ("sig", "application/vnd.dev.sigstore.bundle.v0.3+json")])
        let second = page([("sbom2", "application/spdx+json")])
        let transport = Scripted([
            { _ in
                HTTPResponse(
                    status: 200, headers: ["Content-Type": MediaType.ociIndex, "Link": #"</v2/a/referrers/x?last=2>; rel="next""#],
                    body: first)
            },
            { _ in HTTPResponse(status: 200, headers: ["Content-Type": MediaType.ociIndex], body: second) }
        ])
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "https://reg.test"), transport: transport)
        let found = try #require(try client.listReferrers("a", of: subject, artifactType: "application/spdx+json"))
        #expect(found.map(\.digest) == [Digest.of(Array("sbom".utf8)), Digest.of(Array("sbom2".utf8))])
        #expect(
            transport.requests.map(\.url) == [
                "https://reg.test/v2/a/referrers/\(subject)?artifactType=application%2Fspdx%2Bjson",
                "https://reg.test/v2/a/referrers/x?last=2"
            ])
    }

    @Test func aFilterTheRegistryAppliedIsTrusted() throws {
        let transport = Scripted([
            { _ in HTTPResponse(status: 200, headers: ["OCI-Filters-Applied": "artifactType"], body: self.page([("sig", "other/type")])) }
        ])
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "https://reg.test"), transport: transport)
        #expect(try client.listReferrers("a", of: subject, artifactType: "application/spdx+json")?.count == 1)
    }

    @Test func noReferrersAPIIsNil() throws {
        let transport = Scripted([
            { _ in HTTPResponse(status: 404, body: Array("404 page not found\n".utf8)) },
            { _ in HTTPResponse(status: 200, headers: ["Content-Type": "text/html"], body: Array("<html>".utf8)) }
        ])
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "https://reg.test"), transport: transport)
        #expect(try client.listReferrers("a", of: subject) == nil)
        #expect(try client.listReferrers("a", of: subject) == nil)
    }
}
