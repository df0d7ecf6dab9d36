import Foundation
import OCI

/// The id of a run row; what `pushctl show RUN` takes.
public struct RunID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }
    public var description: String { String(rawValue) }
    public static func < (a: RunID, b: RunID) -> Bool { a.rawValue < b.rawValue }
}

/// Which run `show` wants: one by id, or the newest.
public enum RunReference: Hashable, Sendable, CustomStringConvertible {
    case id(RunID)
    case last

    /// Parses `last` or a run number.
    public init?(_ text: String) {
        if text == "last" { self = .last } else if let n = Int64(text), n > 0 { self = .id(RunID(n)) } else { return nil }
    }

    public var description: String {
        switch self {
        case .id(let id): String(id.rawValue)
        case .last: "last"
        }
    }
}

/// What a run did. An open set (a struct, not an enum) so a newer pushctl's rows still decode.
public struct RunKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let apply = RunKind(rawValue: "apply")
    public static let verify = RunKind(rawValue: "verify")
    /// `pushctl prune --confirm`: its rows are the tags it deleted (status `deleted`).
    public static let prune = RunKind(rawValue: "prune")
    /// `pushctl serve`: an apply of the items that registry push events matched (the events name the run).
    public static let event = RunKind(rawValue: "event")
    /// `pushctl serve`: an apply of a job on its `schedule:`.
    public static let schedule = RunKind(rawValue: "schedule")
    public var description: String { rawValue }
}

/// How a run ended. An open set for the same reason as `RunKind`.
public struct RunStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Still going — or its process died without finishing it (the next `apply` marks such runs
    /// `interrupted`).
    public static let running = RunStatus(rawValue: "running")
    public static let ok = RunStatus(rawValue: "ok")
    /// At least one push failed (exit 1).
    public static let failed = RunStatus(rawValue: "failed")
    /// SIGINT/SIGTERM, or the process died (exit 130).
    public static let interrupted = RunStatus(rawValue: "interrupted")
    /// `verify` found no drift.
    public static let verificationOK = RunStatus(rawValue: "verification-ok")
    /// `verify` found drift (exit 4).
    public static let drift = RunStatus(rawValue: "drift")
    public var description: String { rawValue }
}

/// The outcome of one tag push (docs/cli.md `push-end` statuses).
public enum PushStatus: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// `deleted`: a tag `pushctl prune --confirm` deleted (schema 6). `rejected`: an item its
    /// `verify:` policy refused; nothing of it was pushed (schema 8).
    case pushed, unchanged, failed, deleted, rejected
    public var description: String { rawValue }
}

/// One run row.
public struct RunRecord: Hashable, Sendable {
    public var id: RunID
    public var job: String
    /// The job file as given on the command line.
    public var file: String
    public var fileDigest: String
    public var kind: RunKind
    public var status: RunStatus
    public var started: Date
    public var ended: Date?
    public var host: String
    public var pid: Int32
    public var version: String
    public var exitCode: Int32?
    /// Why the run failed as a whole (it stopped before its pushes, or how many pushes failed).
    public var error: String?

    public init(
        id: RunID, job: String, file: String, fileDigest: String, kind: RunKind, status: RunStatus,
        started: Date, ended: Date?, host: String, pid: Int32, version: String, exitCode: Int32?, error: String? = nil
    ) {
        self.id = id; self.job = job; self.file = file; self.fileDigest = fileDigest; self.kind = kind
        self.status = status; self.started = started; self.ended = ended; self.host = host; self.pid = pid
        self.version = version; self.exitCode = exitCode; self.error = error
    }
}

/// One tag push, recorded once it completed or failed — never half-way (docs/cli.md "State database").
public struct PushRecord: Hashable, Sendable {
    /// Assigned by the database; ignored by `recordPush`.
    public var id: Int64?
    public var runID: RunID
    /// The planner's stable identity of the plan item (also used for `--shard`).
    public var planItemID: String
    /// The source as written in the job file.
    public var source: String
    public var sourceDigest: Digest?
    /// The registry's name in the job file.
    public var registryName: String
    /// Canonical registry host (`registry-1.docker.io`, `ghcr.io`, `localhost:5000`).
    public var registryHost: String
    /// The endpoint actually used (the registry itself or one of its mirrors), as a URL.
    public var endpoint: String
    public var repository: String
    public var tag: String
    public var pushedDigest: Digest?
    public var mediaType: String?
    public var size: Int64?
    public var status: PushStatus
    public var bytesUploaded: Int64
    public var blobsUploaded: Int
    public var blobsMounted: Int
    public var blobsPresent: Int
    public var attempts: Int
    public var error: String?
    public var started: Date
    public var ended: Date
    /// The manifest this push refers to (a referrer, or a `sha256-….sig` attachment); schema 5.
    public var subjectDigest: Digest?
    /// Ids (`sha256:…` of the public key) of the keys that verified the source's signatures (schema 8).
    public var verifiedKeys: [String] = []
    /// The `verify:` verdict: the policy outcome, or why the item was refused; nil without a policy.
    public var verdict: String? = nil
    /// Digests of the `.sig` manifests pushctl wrote for this push (`sign:`).
    public var signatures: [Digest] = []

    public init(
        id: Int64? = nil, runID: RunID, planItemID: String, source: String, sourceDigest: Digest?,
        registryName: String, registryHost: String, endpoint: String, repository: String, tag: String,
        pushedDigest: Digest?, mediaType: String?, size: Int64?, status: PushStatus,
        bytesUploaded: Int64 = 0, blobsUploaded: Int = 0, blobsMounted: Int = 0, blobsPresent: Int = 0,
        attempts: Int = 1, error: String? = nil, started: Date, ended: Date, subjectDigest: Digest? = nil
    ) {
        self.id = id; self.runID = runID; self.planItemID = planItemID; self.source = source
        self.sourceDigest = sourceDigest; self.registryName = registryName; self.registryHost = registryHost
        self.endpoint = endpoint; self.repository = repository; self.tag = tag; self.pushedDigest = pushedDigest
        self.mediaType = mediaType; self.size = size; self.status = status; self.bytesUploaded = bytesUploaded
        self.blobsUploaded = blobsUploaded; self.blobsMounted = blobsMounted; self.blobsPresent = blobsPresent
        self.attempts = attempts; self.error = error; self.started = started; self.ended = ended
        self.subjectDigest = subjectDigest
    }

    /// `HOST/REPOSITORY:TAG`, or `HOST/REPOSITORY@DIGEST` for a referrer pushed by digest (no tag).
    public var target: String {
        if tag.isEmpty, let pushedDigest { return "\(registryHost)/\(repository)@\(pushedDigest)" }
        return "\(registryHost)/\(repository):\(tag)"
    }
    public var duration: TimeInterval { ended.timeIntervalSince(started) }
}

/// A blob known to be present in a repository, seen under a credential identity.
public struct BlobLocation: Hashable, Sendable {
    public var registryHost: String
    public var repository: String
    public var digest: Digest
    /// `credentialIdentity(_:)` of the credentials used, never the credentials.
    public var identity: String

    public init(registryHost: String, repository: String, digest: Digest, identity: String) {
        self.registryHost = registryHost; self.repository = repository; self.digest = digest; self.identity = identity
    }
}

/// A run with all its pushes (`pushctl show`).
public struct RunDetail: Hashable, Sendable {
    public var database: String
    public var run: RunRecord
    public var pushes: [PushRecord]
    /// What a `verify` run found, per tag.
    public var checks: [VerifyCheckRecord] = []
    /// The registry events an `event` run of `pushctl serve` ran, by id (docs/serve.md).
    public var events: [String] = []
}

/// One tag a `verify` run checked: what pushctl pushed there, what the registry holds now.
public struct VerifyCheckRecord: Hashable, Sendable {
    public var registryName: String
    /// `host[:port]` actually asked (a mirror when the url could not be reached).
    public var host: String
    public var endpoint: String?
    public var repository: String
    public var tag: String
    public var expected: String
    public var current: String?
    /// `ok`, `changed`, `gone`, `error`, `not-in-job`.
    public var status: String
    public var error: String?
    /// The run that pushed what was expected.
    public var pushedInRun: Int64

    public init(
        registryName: String, host: String, endpoint: String?, repository: String, tag: String, expected: String,
        current: String?, status: String, error: String?, pushedInRun: Int64
    ) {
        self.registryName = registryName; self.host = host; self.endpoint = endpoint; self.repository = repository
        self.tag = tag; self.expected = expected; self.current = current; self.status = status; self.error = error
        self.pushedInRun = pushedInRun
    }
}

/// `pushctl history` filters (docs/cli.md). Every field narrows the result; nil means "any".
public struct HistoryFilter: Hashable, Sendable {
    public var job: String?
    /// `REPO` or `HOST/REPO`.
    public var repository: String?
    public var tag: String?
    /// A full digest, or a prefix (`sha256:abc…` or bare hex) that matches one digest only.
    public var digest: String?
    public var since: Date?
    /// Only rows before this time.
    public var until: Date?
    public var status: PushStatus?
    /// Only runs that ended so (`interrupted`, `failed`, …): their pushes, or the run itself.
    public var runStatus: RunStatus?
    /// Only runs of this kind (`apply`, `verify`, …).
    public var kind: RunKind?
    /// Only pushes to this registry: its name in the job file or its `host[:port]`.
    public var registry: String?
    public var limit: Int?

    public init(
        job: String? = nil, repository: String? = nil, tag: String? = nil, digest: String? = nil,
        since: Date? = nil, status: PushStatus? = nil, limit: Int? = nil
    ) {
        self.job = job; self.repository = repository; self.tag = tag; self.digest = digest
        self.since = since; self.status = status; self.limit = limit
    }

    /// Filters that only pushes can match; with any of them, runs without pushes are left out.
    var narrowsPushes: Bool { repository != nil || tag != nil || digest != nil || status != nil || registry != nil }
}

/// One history line: a push with its run, or a run that recorded no push.
public struct HistoryRow: Hashable, Sendable {
    /// Path of the state database the row came from (history can read several).
    public var database: String
    public var run: RunRecord
    public var push: PushRecord?

    /// The time rows are ordered by: the push's start, else the run's.
    public var time: Date { push?.started ?? run.started }
}

/// What `prune` removed.
public struct PruneResult: Hashable, Sendable {
    public var runsRemoved: Int
    public var pushesRemoved: Int
    public init(runsRemoved: Int, pushesRemoved: Int) { self.runsRemoved = runsRemoved; self.pushesRemoved = pushesRemoved }
}

/// What the signing stage did for one push (`sign:`): the rows of `runID` for `planItemID` at
/// `registryHost`/`repository` with `pushedDigest` get `signatures`; `error` (signing failed)
/// turns them `failed`.
public struct SigningRecord: Sendable, Equatable {
    public var runID: RunID
    public var planItemID: String
    public var registryHost: String
    public var repository: String
    public var pushedDigest: Digest
    public var signatures: [Digest]
    public var error: String?

    public init(
        runID: RunID, planItemID: String, registryHost: String, repository: String, pushedDigest: Digest,
        signatures: [Digest], error: String?
    ) {
        self.runID = runID
        self.planItemID = planItemID
        self.registryHost = registryHost
        self.repository = repository
        self.pushedDigest = pushedDigest
        self.signatures = signatures
        self.error = error
    }
}
