import Foundation
import OCI
import Threading

/// A client that knows whether its endpoint answered over TLS, at any step of any work (the
/// ping, a HEAD, an upload, a manifest): the host's plain-http twin is then never used, even when
/// the work failed later (a registry restarted as plain http mid-upload).
public protocol TLSAnswerReporting {
    var hasAnsweredOverTLS: Bool { get }
}

extension RegistryClient: TLSAnswerReporting {}

/// Said once per registry and run when an endpoint is abandoned.
public struct EndpointFallbackNotice: Sendable, CustomStringConvertible {
    public var registry: String
    public var abandoned: String
    public var reason: String
    /// The endpoint tried next, if any is left.
    public var next: String?
    public var nextIsMirror: Bool

    public var description: String {
        var text = "registry \(registry): \(abandoned) unreachable (\(reason))"
        if let next { text += "; using \(nextIsMirror ? "mirror " : "")\(next)" } else { text += "; no endpoint left" }
        return text
    }
}

/// No endpoint of a registry could be used in this run.
public struct NoUsableEndpoint: Error, Sendable, CustomStringConvertible {
    public var registry: String
    /// Each endpoint tried (in this call or earlier in the run) and why it was abandoned.
    public var attempts: [(endpoint: String, reason: String)]

    public var description: String {
        let tried = attempts.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; ")
        return "no endpoint of registry \(registry) could be used (\(tried))"
    }
}

/// The endpoints of one registry for one run, with the one fallback rule that every reader and
/// writer of that registry follows (docs/jobfile.md "Endpoint fallback order"; docs/run.md):
///
/// 1. endpoints are tried in plan order (`url`, then each mirror);
/// 2. an endpoint that cannot be used is abandoned and remembered as dead for the rest of the
///    run, so later work goes straight to the next one;
/// 3. a plain-http twin is tried only after its host's TLS handshake failed, and never for a host
///    that answered over TLS in this run;
/// 4. each abandonment is announced once.
///
/// It keeps one client per endpoint for the whole run (connections and tokens are reused).
/// Generic over the client so the executor's unit tests run the same rule over fakes. Errors are
/// classified through `EndpointVerdictProviding`; any other error is final.
public final class EndpointSet<Client: Sendable>: Sendable {
    public let registry: String
    public let members: [RegistryEndpoint]
    private let makeClient: @Sendable (_ member: RegistryEndpoint, _ hasFallback: Bool) -> Client
    private let announce: @Sendable (EndpointFallbackNotice) -> Void
    private let state = LockedValue(RunState())

    private struct RunState {
        var clients: [String: Client] = [:]
        /// Abandoned endpoints, by URL: why, and whether the TLS handshake failed.
        var dead: [String: (reason: String, tlsHandshake: Bool)] = [:]
        var deadOrder: [String] = []
        /// Hosts that answered over TLS in this run.
        var confirmedTLS: Set<String> = []
    }

    /// - Parameters:
    ///   - makeClient: makes the client of one endpoint, once per run; `hasFallback` says whether
    ///     another (non-twin) endpoint follows it, in which case a client should not spend time
    ///     retrying connection failures.
    public init(
        registry: String, members: [RegistryEndpoint],
        announce: @escaping @Sendable (EndpointFallbackNotice) -> Void = { _ in },
        makeClient: @escaping @Sendable (_ member: RegistryEndpoint, _ hasFallback: Bool) -> Client
    ) {
        self.registry = registry
        self.members = members
        self.announce = announce
        self.makeClient = makeClient
    }

    /// The client of `member`, made on first use.
    public func client(for member: RegistryEndpoint) -> Client {
        state.withLock { state in
            if let client = state.clients[member.url] { return client }
            let index = members.firstIndex(of: member) ?? members.count
            let hasFallback = members[min(index + 1, members.count)...].contains { !$0.isHTTPTwin }
            let client = makeClient(member, hasFallback)
            state.clients[member.url] = client
            return client
        }
    }

    /// Runs `body` at the first usable endpoint, falling back as the rule says. A failure the
    /// classifier calls `final` is rethrown as it is; when every endpoint is dead the error is
    /// `NoUsableEndpoint`, naming each endpoint and why it was abandoned.
    public func perform<T>(_ body: (Client, RegistryEndpoint) throws -> T) throws -> (value: T, endpoint: RegistryEndpoint) {
        var index = 0
        while index < members.count {
            let member = members[index]
            index += 1
            guard isEligible(member) else { continue }
            do {
                let value = try body(client(for: member), member)
                confirmAnswered(member)
                return (value, member)
            } catch {
                guard case .unusable(let tlsHandshake) = (error as? any EndpointVerdictProviding)?.endpointVerdict else {
                    confirmAnswered(member)
                    throw error
                }
                abandon(member, reason: String(describing: error), tlsHandshake: tlsHandshake, after: index)
            }
        }
        throw NoUsableEndpoint(
            registry: registry,
            attempts: state.withLock { state in
                state.deadOrder.map { ($0, state.dead[$0]!.reason) }
            })
    }

    /// The endpoint work would go to first now (dead ones skipped), if any is left.
    public var preferred: RegistryEndpoint? { members.first { isEligible($0) } }

    /// The endpoints abandoned so far in this run, in order.
    public var abandoned: [String] { state.withLock { $0.deadOrder } }

    private func isEligible(_ member: RegistryEndpoint) -> Bool {
        state.withLock { state in
            guard state.dead[member.url] == nil else { return false }
            guard member.isHTTPTwin else { return true }
            let host = member.host
            guard !state.confirmedTLS.contains(host) else { return false }
            // Whichever step saw TLS answer, on any endpoint of this host (the client knows).
            let answered = members.contains { other in
                other.isHTTPS && other.host == host
                    && (state.clients[other.url] as? any TLSAnswerReporting)?.hasAnsweredOverTLS == true
            }
            if answered {
                state.confirmedTLS.insert(host)
                return false
            }
            // The twin follows its https endpoint, which must have failed in its TLS handshake.
            return members.contains { $0.isHTTPS && $0.host == host && state.dead[$0.url]?.tlsHandshake == true }
        }
    }

    private func confirmAnswered(_ member: RegistryEndpoint) {
        guard member.isHTTPS else { return }
        _ = state.withLock { $0.confirmedTLS.insert(member.host) }
    }

    private func abandon(_ member: RegistryEndpoint, reason: String, tlsHandshake: Bool, after index: Int) {
        let first = state.withLock { state in
            guard state.dead[member.url] == nil else { return false }
            state.dead[member.url] = (reason, tlsHandshake)
            state.deadOrder.append(member.url)
            return true
        }
        guard first else { return }
        let next = members[index...].first { isEligible($0) }
        announce(
            EndpointFallbackNotice(
                registry: registry, abandoned: member.url, reason: reason,
                next: next?.url, nextIsMirror: next?.isMirror ?? false))
    }
}

extension RegistryError: EndpointVerdictProviding {
    /// The fallback verdict for an error of a registry call.
    public var endpointVerdict: EndpointVerdict {
        isEndpointFailure && !isRegistryAnswer ? .unusable(tlsHandshake: isTLSHandshakeFailure) : .final
    }
}
