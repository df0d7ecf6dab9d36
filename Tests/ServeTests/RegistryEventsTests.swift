import Foundation
import JobFile
import Planner
import Serve
import State
import Testing

/// The hook's body (distribution's notification envelope) and which items an event starts.
struct RegistryEventsTests {
    static func envelope(_ events: String) -> [UInt8] { Array(#"{"events":[\#(events)]}"#.utf8) }

    static func push(_ id: String, repository: String = "lib/app", tag: String? = "1.2.0", host: String = "upstream.example:5000") -> String
    {
        let tagField = tag.map { #","tag":"\#($0)""# } ?? ""
        return #"""
            {"id":"\#(id)","timestamp":"2026-12-06T21:00:00Z","action":"push",
             "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(String(repeating: "a", count: 64))",
                       "repository":"\#(repository)"\#(tagField)},
             "request":{"host":"\#(host)"}}
            """#
    }

    @Test func pushesWithATagAreKeptOthersOnlyCounted() throws {
        let body = Self.envelope(
            [Self.push("e1"), Self.push("e2", tag: nil), #"{"id":"e3","action":"pull","target":{"repository":"lib/app"}}"#]
                .joined(separator: ","))
        let parsed = try RegistryEvents.parse(body, received: Date())
        #expect(parsed.events.map(\.id) == ["e1"])
        #expect(parsed.events.first?.tag == "1.2.0")
        #expect(parsed.events.first?.host == "upstream.example:5000")
        #expect(parsed.skipped == 2)
    }

    @Test(arguments: [
        ("not json", "not JSON"), (#"{"nope":1}"#, "events is missing"),
        (#"{"events":[{"action":"push","target":{"repository":"a"}}]}"#, "events[0].id is missing"),
        (#"{"events":[{"id":"x","action":"push","target":{}}]}"#, "events[0].target.repository is missing"),
        (#"{"events":"x"}"#, "events has the wrong type")
    ])
    func malformedBodiesSayWhy(body: String, reason: String) {
        do {
            _ = try RegistryEvents.parse(Array(body.utf8), received: Date())
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    static let job: Job = {
        let yaml = """
            version: 1
            name: mirror
            registries:
              mirror: {url: "https://mirror.example"}
            images:
              - source: docker://upstream.example:5000/lib/app
                repository: mirror/app
                tags: {semver: ">=1.0.0"}
                targets: [mirror]
              - source: docker://upstream.example:5000/lib/tool:stable
                repository: mirror/tool
                targets: [mirror]
              - source: docker://upstream.example:5000/lib/app@sha256:\(String(repeating: "b", count: 64))
                repository: mirror/pinned
                tags: [pinned]
                targets: [mirror]
            """
        guard case .success(let job) = JobLoader.load(bytes: Array(yaml.utf8), path: "mirror.yaml", environment: [:]) else {
            fatalError("test job invalid")
        }
        return job
    }()

    static func event(_ repository: String, _ tag: String, host: String? = "upstream.example:5000") -> EventRecord {
        EventRecord(id: "x", received: Date(), action: "push", repository: repository, tag: tag, digest: nil, host: host)
    }

    @Test func selectorOwnTagHostAndPinnedItems() {
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/app", "1.3.0")).map(\.repository) == ["mirror/app"])
        // The selector does not take it: nothing.
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/app", "0.9.0")).isEmpty)
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/tool", "stable")).map(\.repository) == ["mirror/tool"])
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/tool", "edge")).isEmpty)
        // Another registry's repository of the same name.
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/app", "1.3.0", host: "elsewhere:5000")).isEmpty)
        // No host in the event: the repository decides.
        #expect(RegistryEvents.items(of: Self.job, matching: Self.event("lib/tool", "stable", host: nil)).count == 1)
    }
}
