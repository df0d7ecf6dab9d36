import Foundation
import JobFile
import OCI
import Planner
import State

/// The body docker-registry (CNCF distribution) sends to a `notifications.endpoints` URL:
/// `application/vnd.docker.distribution.events.v1+json`, an envelope of `events[]`
/// (https://distribution.github.io/distribution/about/notifications/).
struct NotificationEnvelope: Decodable {
    var events: [Event]

    struct Event: Decodable {
        var id: String
        var timestamp: String?
        var action: String
        var target: Target
        var request: RequestInfo?
    }

    struct Target: Decodable {
        var mediaType: String?
        var digest: String?
        var repository: String
        var tag: String?
    }

    struct RequestInfo: Decodable {
        var host: String?
    }
}

/// Why a hook body was refused (400, with this text as the reason).
public enum HookBodyError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON
    case invalid(String)

    public var description: String {
        switch self {
        case .notJSON: "the body is not JSON"
        case .invalid(let why): "the body is not a notification envelope: \(why)"
        }
    }
}

/// Reads notification envelopes and matches their push events to the jobs' items.
public enum RegistryEvents {
    /// The content types a hook accepts (parameters such as `charset` aside).
    public static let contentTypes = ["application/vnd.docker.distribution.events.v1+json", "application/json"]

    /// The events of an envelope worth keeping: pushes that name a tag. Other actions (pull,
    /// delete, mount) and pushes without a tag (blobs, manifests by digest) can start nothing, so
    /// they are only counted (`skipped`), not stored.
    public static func parse(_ bytes: [UInt8], received: Date) throws(HookBodyError) -> (events: [EventRecord], skipped: Int) {
        guard (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil else { throw .notJSON }
        let envelope: NotificationEnvelope
        do {
            envelope = try JSONDecoder().decode(NotificationEnvelope.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .invalid(reason(error))
        } catch {
            throw .invalid("\(error)")
        }
        var events: [EventRecord] = []
        var skipped = 0
        for event in envelope.events {
            guard !event.id.isEmpty else { throw .invalid("an event has an empty id") }
            guard event.action == "push", let tag = event.target.tag, !tag.isEmpty else {
                skipped += 1
                continue
            }
            events.append(
                EventRecord(
                    id: event.id, received: received, action: event.action, repository: event.target.repository, tag: tag,
                    digest: event.target.digest, host: event.request?.host))
        }
        return (events, skipped)
    }

    private static func reason(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ last: String? = nil) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" } + (last.map { [".\($0)"] } ?? [])
            return keys.isEmpty ? "the top level" : String(keys.joined().drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context, key.stringValue)) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)) has the wrong type"
        case .dataCorrupted(let context): return "\(path(context)) is not valid"
        @unknown default: return "\(error)"
        }
    }

    /// The `docker://` items of `job` that read the event's repository (on the event's host, when
    /// it names one) with a tag their selector (or their own tag) takes. Items pinned by digest
    /// never match: a push cannot change what they copy.
    public static func items(of job: Job, matching event: EventRecord) -> [PlanItem] {
        guard let tag = event.tag else { return [] }
        return Planner.plan(job).items.filter { item in
            guard case .registry(let reference) = item.source.spec, reference.digest == nil else { return false }
            guard reference.path == event.repository || (reference.isDockerHubLibrary && "library/" + event.repository == reference.path)
            else { return false }
            if let host = event.host?.lowercased(), !host.isEmpty {
                guard host == reference.domain.lowercased() || host == reference.apiHost.lowercased() else { return false }
            }
            if case .selector(let selector) = item.tags {
                return ((try? TagSelection.select(selector, from: [tag])) ?? []).isEmpty == false
            }
            return (reference.tag ?? "latest") == tag
        }
    }
}

extension ImageReference {
    fileprivate var isDockerHubLibrary: Bool { domain == ImageReference.dockerHubDomain && path.hasPrefix("library/") }
}
