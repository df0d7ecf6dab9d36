import OCI
import YAML

/// A validated job file (docs/jobfile.md). Every value here already passed every
/// rule of docs/jobfile.md, variables are substituted, and paths are absolute.
public struct Job: Sendable {
    public var version: Int
    public var name: String
    public var defaults: Defaults
    /// Registries in the order they are written in the file.
    public var registries: [Registry]
    public var images: [ImageEntry]
    /// The path the job was loaded from, as given by the caller.
    public var filePath: String
    /// The absolute directory relative paths in the job were resolved against.
    public var directory: String
    /// sha256 of the file's bytes, recorded with every run.
    public var fileDigest: Digest
    /// `schedule:` with `timezone:` (docs/jobfile.md "Schedules"): when `pushctl serve` runs the job.
    public var schedule: CronSchedule? = nil

    public func registry(named name: String) -> Registry? {
        registries.first { $0.name == name }
    }
}

/// `defaults:` (docs/jobfile.md "Top level"): ranges are checked when the file is loaded.
public struct Defaults: Sendable, Hashable {
    /// Blob transfers at once within one image push (1–64).
    public var concurrency: Int
    /// Image pushes at once across the whole job (1–32).
    public var images: Int
    /// Attempts per request for retryable failures (1–20).
    public var retries: Int
    /// `platforms:` for images that give none: push only these entries of an index (nil: all).
    public var platforms: [PlatformSelector]? = nil
    /// `referrers:` for images that give none.
    public var referrers: ReferrerSelection? = nil
    /// `timeout:` in seconds (docs/jobfile.md): the deadline of every request that moves no
    /// blob, the budget within which a stalled endpoint is abandoned, the blob throughput window,
    /// and (× 10) the total deadline of one item. Registries may set their own.
    public var timeout: Double = 60
    /// The range a `timeout` may take, in seconds.
    public static let timeoutRange: ClosedRange<Double> = 1...3600
    /// `verify:` for images that give none (docs/jobfile.md "Signatures").
    public var verify: VerifySpec? = nil
    /// `sign:` for images that give none.
    public var sign: SignSpec? = nil

    public static let standard = Defaults(concurrency: 5, images: 2, retries: 5)
    public static let concurrencyRange = 1...64
    public static let imagesRange = 1...32
    public static let retriesRange = 1...20

    public init(concurrency: Int, images: Int, retries: Int) {
        self.concurrency = concurrency
        self.images = images
        self.retries = retries
    }
}

/// One entry of `registries:` (docs/jobfile.md "Registries").
public struct Registry: Sendable {
    public var name: String
    public var url: RegistryURL
    /// More endpoints of the same registry, tried in order after `url`.
    public var mirrors: [RegistryURL]
    public var insecure: Bool
    /// Absolute paths of PEM files.
    public var ca: String?
    public var cert: String?
    public var key: String?
    /// Credentials written in the job; `nil` means "use the Docker credential search".
    public var auth: Auth?
    public var location: Location
    /// This registry's `timeout` in seconds, when it sets one (else `defaults.timeout`).
    public var timeout: Double? = nil

    /// True when this registry is Docker Hub (`docker.io` or `index.docker.io`).
    public var isDockerHub: Bool { url.isDockerHub }

    /// The repository path as the registry API sees it: Docker Hub's one-word names get `library/`.
    public func apiRepository(_ repository: String) -> String {
        if isDockerHub && !repository.contains("/") { return "library/" + repository }
        return repository
    }
}

/// Credentials from a job file's `auth:`. Never printed: `description` redacts the secrets.
public enum Auth: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    case basic(username: String, password: String)
    case token(String)

    public var description: String {
        switch self {
        case .basic(let username, _): "basic auth as \(username) (password redacted)"
        case .token: "token (redacted)"
        }
    }

    public var debugDescription: String { description }
}

/// One entry of `images:` (docs/jobfile.md "Images").
public struct ImageEntry: Sendable {
    /// 0-based position in `images:`.
    public var index: Int
    public var location: Location
    /// The `source:` text after variable substitution, as written otherwise.
    public var sourceText: String
    public var source: SourceSpec
    /// Target repository as written (Docker Hub's `library/` prefix is added per target by the planner).
    public var repository: String
    public var tags: TagSpec
    /// Names from `registries:`, in the order written.
    public var targets: [String]
    /// `platforms:` as written on the image (nil: none written; see `effectivePlatforms`).
    public var platforms: [PlatformSelector]? = nil
    /// `referrers:` as written on the image (nil: not written; see `Job.referrers(of:)`).
    public var referrers: ReferrerSelection? = nil
    /// `verify:` as written on the image (nil: not written; see `Job.verify(of:)`).
    public var verify: VerifySpec? = nil
    /// `sign:` as written on the image (nil: not written; see `Job.sign(of:)`).
    public var sign: SignSpec? = nil
}

extension Job {
    /// The platforms an image entry keeps: its own `platforms:`, else `defaults.platforms`; nil
    /// means every platform (the source is pushed whole).
    public func platforms(of image: ImageEntry) -> [PlatformSelector]? {
        image.platforms ?? defaults.platforms
    }
}

/// What `tags:` says.
public enum TagSpec: Sendable, Hashable {
    /// Explicit target tags.
    case list([String])
    /// For `docker://` sources: pick tags from the source repository's tag list.
    case selector(TagSelector)
    /// Omitted: the source's own tag.
    case fromSource
}

/// A tag selector (docs/jobfile.md "Tags"): `match`, `exclude`, `semver`, `latest`, `prerelease`.
public struct TagSelector: Sendable, Hashable {
    /// Anchored regular expression; `nil` selects all tags.
    public var match: String?
    /// Anchored regular expressions; a tag matching any of them is dropped.
    public var exclude: [String]
    /// The range as written, e.g. `>=3.18 <4`.
    public var semver: String?
    /// Keep the highest N by semantic-version order.
    public var latest: Int?
    /// Let pre-releases (`2.1.0-rc1`) into `semver` and `latest`; they are left out by default.
    public var prerelease: Bool

    public init(
        match: String? = nil, exclude: [String] = [], semver: String? = nil, latest: Int? = nil,
        prerelease: Bool = false
    ) {
        self.match = match
        self.exclude = exclude
        self.semver = semver
        self.latest = latest
        self.prerelease = prerelease
    }
}
