// swift-tools-version:6.0
// pushctl: a declarative push-job runner for container images.
//
// Data flows one way, and the targets follow it:
//   JobFile (YAML → validated Job) → Planner (Job → Plan) → Pusher (executor)
//   → Registry (distribution protocol on libcurl) and State (SQLite).
// ImageSource reads the images the pusher walks. The C libraries sit at the edge behind
// thin wrappers: YAML (libyaml), Curl (libcurl), SQLite (sqlite3); zlib is used by ImageSource.
import PackageDescription

let package = Package(
    name: "pushctl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pushctl", targets: ["pushctl"]),
        // Fuzzing (scripts/fuzz): libFuzzer when built with -sanitize=fuzzer -DFUZZING, else a
        // seeded mutation harness.
        .executable(name: "pushctl-fuzz", targets: ["PushctlFuzz"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        // `pushctl serve`: the HTTP server (on SwiftNIO) for registry events and the web view.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        // Hummingbird's own: its logger (quietened) and the service group that shuts it down gracefully.
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0")
    ],
    targets: [
        // MARK: C libraries (system packages) and the curl shim
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // libcurl and libpq are loaded with dlopen when first needed, not linked (CCurlShim,
        // CLibPQShim; docs/performance.md "Libraries loaded when needed"): these modules give
        // their headers only, without pkg-config, whose --libs would link them.
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // libpq for the PostgreSQL ledger (docs/state.md "PostgreSQL").
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // scrypt and NaCl secretbox for cosign's encrypted private keys (Signing).
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .target(name: "CLibraryLoader"),
        .target(name: "CCurlShim", dependencies: ["CCurl", "CLibraryLoader"]),
        .target(name: "CLibPQShim", dependencies: ["CLibPQ", "CLibraryLoader"]),
        // gzip's CRC-32 with carry-less multiplies, for the layers pushctl compresses (ImageSource).
        .target(name: "CChecksum"),

        // MARK: threads, locks and cancellation (docs/concurrency.md): pthreads ThreadSanitizer can see
        .target(name: "Threading"),
        // Text from servers and files made safe to print (control characters escaped, secrets cut).
        .target(name: "SafeText"),

        // MARK: thin Swift wrappers over the C libraries
        .target(name: "YAML", dependencies: ["CYAML"]),
        .target(name: "Curl", dependencies: ["CCurl", "CCurlShim", "CLibraryLoader", "Threading", "SafeText"]),
        .target(name: "SQLite", dependencies: ["CSQLite", "Threading"]),
        .target(name: "Postgres", dependencies: ["CLibPQ", "CLibPQShim"]),

        // MARK: the stages
        .target(name: "OCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Curl for `DisplayText` only: job-file values in messages are escaped as registry text is.
        .target(name: "JobFile", dependencies: ["YAML", "OCI", "SafeText"]),
        .target(name: "Planner", dependencies: ["JobFile", "OCI"]),
        .target(name: "ImageSource", dependencies: ["OCI", "CZlib", "CChecksum", "Threading"]),
        .target(name: "Registry", dependencies: ["Curl", "OCI", "Threading", "SafeText"]),
        .target(name: "State", dependencies: ["SQLite", "Postgres", "OCI", "Threading", .product(name: "Crypto", package: "swift-crypto")]),
        // The executor: what a push needs (one decision function for plan and apply) and doing it.
        .target(name: "Pusher", dependencies: ["OCI", "Threading"]),
        // `docker-daemon:` sources: the container engine's API (inspect, export) over libcurl.
        .target(name: "EngineSource", dependencies: ["Curl", "ImageSource", "OCI", "SafeText", "Threading"]),
        // `docker://` sources: images read from a registry, rate-limit budgets.
        .target(name: "RegistrySource", dependencies: ["JobFile", "ImageSource", "Registry", "Curl", "OCI", "Threading"]),
        // The run layer: one run's registries (endpoint sets, clients), preparation, and the
        // apply/plan/verify runs the CLI calls.
        .target(
            name: "Run",
            dependencies: [
                "JobFile", "Planner", "ImageSource", "Registry", "RegistrySource", "EngineSource", "Curl",
                "State", "Pusher", "OCI", "Threading", "Signing"
            ]),
        // Supply-chain gates: cosign "simple signing" signatures (the `.sig` tag), their verification
        // against trusted keys, and cosign's encrypted key files (docs/signing.md).
        .target(name: "Signing", dependencies: ["OCI", "CSodium", .product(name: "Crypto", package: "swift-crypto")]),
        // The ledger's records as JSON and Prometheus text, shared by `show`, `history` and the web view.
        .target(name: "LedgerFormat", dependencies: ["State", "OCI"]),
        // The ledger's read-only web view: HTML pages (Mustache templates), the JSON API and
        // /metrics, as plain responses the HTTP server hands out (docs/web.md).
        .target(
            name: "LedgerWeb",
            dependencies: ["State", "LedgerFormat", "SafeText", .product(name: "Mustache", package: "swift-mustache")]),
        // Renders the executor's events: docker-like lines, live bars, NDJSON.
        .target(name: "PushOutput", dependencies: ["Pusher", "OCI", "Threading"]),
        // `pushctl serve`: one long-running process that runs jobs on their schedules and on registry
        // push events (docs/serve.md); the HTTP routes on Hummingbird.
        .target(
            name: "Serve",
            dependencies: [
                "Run", "State", "JobFile", "LedgerWeb", "Planner", "PushOutput", "Pusher", "Threading", "YAML", "OCI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ]),
        .executableTarget(
            name: "pushctl",
            dependencies: [
                "Serve", "Run", "PushOutput", "JobFile", "Planner", "State", "LedgerFormat", "Pusher", "OCI",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),

        // MARK: fuzzing: the parsers of untrusted bytes as fuzz targets, and the fuzzer binary
        .target(name: "FuzzTargets", dependencies: ["JobFile", "OCI", "Registry"], path: "Fuzz/Sources/FuzzTargets"),
        .executableTarget(name: "PushctlFuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Sources/PushctlFuzz"),

        // MARK: tests
        // Starts Debian's docker-registry (and helpers such as a token issuer) for integration tests.
        // What every suite shares: the process runner, the pushctl binary locator, scratch folders,
        // schema validation, the job-file builder (`JobSpec`), and the image and blob writers
        // (docker save archives, OCI layouts, deterministically).
        .target(name: "TestSupport", dependencies: ["OCI", "Threading"], path: "Tests/TestSupport"),
        .target(
            name: "RegistryHarness",
            dependencies: ["TestSupport", "OCI", "Threading", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/RegistryHarness"),
        .testTarget(name: "ThreadingTests", dependencies: ["Threading"]),
        .testTarget(name: "OCITests", dependencies: ["OCI"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "JobFileTests", dependencies: ["JobFile", "YAML", "OCI"], exclude: ["Fixtures"]),
        .testTarget(name: "PlannerTests", dependencies: ["Planner", "JobFile", "OCI"]),
        .testTarget(name: "ImageSourceTests", dependencies: ["ImageSource", "OCI", "TestSupport", "Threading", "CChecksum", "CZlib"]),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "Curl", "CCurlShim", "CLibPQShim", "OCI", "RegistryHarness", "TestSupport", "Threading", "SafeText"]),
        .testTarget(
            name: "StateTests",
            dependencies: ["State", "SQLite", "Postgres", "OCI", "RegistryHarness", "TestSupport", "Threading"]),
        // In-memory fakes of the executor's ports (state, event sink) for the suites that drive one.
        .target(name: "PusherFakes", dependencies: ["Pusher", "OCI", "Threading"], path: "Tests/PusherFakes"),
        .testTarget(name: "PusherTests", dependencies: ["Pusher", "PusherFakes", "Run", "Registry", "Curl", "OCI", "Threading"]),
        .testTarget(
            name: "RegistrySourceTests",
            dependencies: [
                "RegistrySource", "Run", "Pusher", "PusherFakes", "Planner", "JobFile", "ImageSource", "Registry", "Curl", "OCI",
                "RegistryHarness", "Threading"
            ]),
        // Real cosign signatures (Fixtures/cosign) and an independent Python implementation
        // (cosign_interop.py, Debian's python3-cryptography and python3-nacl).
        .testTarget(name: "SigningTests", dependencies: ["Signing", "OCI", "FuzzTargets"], exclude: ["Fixtures", "cosign_interop.py"]),
        // The web view over a real SQLite ledger: every page and API answer, schemas, /metrics
        // through prometheus_client's parser, and headless Chromium on the rendered pages.
        .testTarget(name: "LedgerWebTests", dependencies: ["LedgerWeb", "State", "OCI", "Threading", "TestSupport"]),
        .testTarget(name: "RunTests", dependencies: ["Run", "Planner"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "JobFile", "State", "Planner"]),
        .testTarget(name: "PushOutputTests", dependencies: ["PushOutput", "Pusher", "OCI"]),
        // Replays the fuzz corpus and every input a fuzzer ever crashed on (Fuzz/).
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "JobFile", "OCI", "Registry"]),
        .testTarget(name: "CLITests", dependencies: ["OCI", "Signing", "RegistryHarness", "TestSupport"], exclude: ["Fixtures"])
    ],
    swiftLanguageModes: [.v6]
)
