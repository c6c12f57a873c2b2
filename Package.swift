// swift-tools-version: 6.0
import PackageDescription

// alv: Adaptive Load Vectoring with Predictive Scaling.
// One library target per concern; `alv` only parses arguments and calls into them.
let package = Package(
    name: "alv",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "alv", targets: ["alv"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries from Debian, each behind a module map and a typed shim.
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        // No pkgConfig: libzmq's .pc adds -isystem flags that SwiftPM rejects.
        .systemLibrary(
            name: "CZmq", path: "Sources/CZmq",
            providers: [.apt(["libzmq3-dev"])]),

        // Payload templates, data feeders and the seeded random source.
        .target(name: "ALVTemplates"),
        // Load Vectors, ALV profiles, the positioned JSON reader and the validator.
        .target(name: "ALVModel", dependencies: ["ALVTemplates"]),
        // SQLite: the vector and profile repository (and, later, the metrics store).
        .target(name: "ALVStore", dependencies: ["ALVModel", "ALVMetrics", "CSQLite"]),
        // Mergeable metrics: latency histograms, outcome counts, per-second deltas and their codec.
        .target(name: "ALVMetrics"),
        // Services with explicit states, the supervisor that runs them and owns SIGINT/SIGTERM, stop flags.
        .target(name: "ALVLifecycle"),
        // The load engine: libcurl multi execution of work units (open and closed models).
        .target(name: "ALVEngine", dependencies: ["ALVLifecycle", "ALVModel", "ALVProtocol", "ALVTemplates", "ALVMetrics", "CCurl"]),
        // A thin ZeroMQ layer: context, sockets, multipart send/receive, polling, CURVE keys.
        .target(name: "ALVTransport", dependencies: ["CZmq", "CSodium"]),
        // The wire: work units, engine options, worker/control/planner messages as plain values, and their
        // codec. Depends on neither the engine nor libcurl nor ZeroMQ.
        .target(name: "ALVProtocol", dependencies: ["ALVMetrics", "ALVModel"]),
        // Runs: plans, the in-process runner, aggregation of deltas, thresholds and the run summary.
        .target(name: "ALVRun", dependencies: ["ALVEngine", "ALVLifecycle", "ALVMetrics", "ALVModel", "ALVProtocol", "ALVStore"]),
        // The broker (in parts: sockets, worker registry, unit scheduler, run session, store writer) and the
        // stateless worker: units out over PUSH/PULL, metrics back over XPUB/SUB.
        .target(name: "ALVCluster", dependencies: ["ALVEngine", "ALVLifecycle", "ALVMetrics", "ALVModel", "ALVProtocol", "ALVRun", "ALVStore", "ALVTransport"]),
        // Distributed runs composed: broker, worker pool and planner, live feed, under one supervisor; the
        // planner beside a remote broker. What `alv run`, `alv broker --run` and `alv planner` share.
        .target(
            name: "ALVDistributed",
            dependencies: ["ALVCloud", "ALVCluster", "ALVDashboard", "ALVLifecycle", "ALVModel", "ALVPlanner", "ALVProtocol", "ALVRun", "ALVStore", "ALVTransport"]),
        // Reports of stored runs: HTML (inline SVG charts), JSON, JUnit, CSV.
        .target(name: "ALVReport", dependencies: ["ALVMetrics", "ALVProtocol", "ALVRun", "ALVStore"]),
        // Blocking HTTP calls over one libcurl easy handle (Prometheus, cloud APIs), with libcurl's SigV4 signing.
        .target(name: "ALVHTTPClient", dependencies: ["CCurl"]),
        // libsodium (a dependency of libzmq): the HMAC that signs enrolment tokens.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // Cloud groups: the AWS Auto Scaling Query API (SigV4 over libcurl, credentials as the AWS CLI finds
        // them) and provider CLIs run as argument vectors (the `command` launcher).
        .target(name: "ALVCloud", dependencies: ["ALVHTTPClient", "ALVModel"]),
        // Prometheus: remote write out (protobuf by hand, snappy of our own), query_range in, scrapes of the
        // text exposition, over libcurl.
        .target(name: "ALVPrometheus", dependencies: ["ALVHTTPClient", "ALVMetrics", "ALVModel"]),
        // Tests only: Debian's libsnappy, to check alv's snappy against the reference implementation.
        .systemLibrary(name: "CSnappy", path: "Tests/CSnappy", providers: [.apt(["libsnappy-dev"])]),
        // The live dashboard, HTTP API and Prometheus endpoint.
        .target(
            name: "ALVDashboard",
            dependencies: [
                "ALVLifecycle", "ALVPrometheus", "ALVMetrics", "ALVModel", "ALVProtocol", "ALVReport", "ALVRun", "ALVStore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // The built-in HTTP target for demos, tests and benchmarks.
        .target(
            name: "ALVTarget",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // Demand forecasting: series toolkit, seasonal naive, ETS, ARIMA, MSTL, Prophet-style, automatic selection.
        // Numerics: optimised in debug builds too (unoptimised, a backtested `auto` fit takes 20-50x longer,
        // and the tests and the debug `alv` fit hundreds of them).
        .target(name: "ALVForecast", swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The planner: capacity rule, scaling policies, decisions, the scaling simulator and worker launchers.
        .target(name: "ALVPlanner", dependencies: ["ALVCloud", "ALVForecast", "ALVModel", "ALVProtocol", "ALVTransport", "CProcessControl"]),
        // prctl(PR_SET_CHILD_SUBREAPER) for the launchers (prctl is variadic).
        .target(name: "CProcessControl"),
        // config/ (built-in vectors, profiles, targets, schemas) embedded at build time by the EmbedConfig plugin.
        .target(name: "ALVBuiltins", plugins: ["EmbedConfig"]),
        .plugin(name: "EmbedConfig", capability: .buildTool(), dependencies: ["alv-embed"]),
        .executableTarget(name: "alv-embed"),
        // Versions of the linked C libraries, for `alv --version`.
        .target(name: "ALVSystem", dependencies: ["CCurl", "CZmq", "CSQLite"]),

        .executableTarget(
            name: "alv",
            dependencies: [
                "ALVModel", "ALVStore", "ALVTemplates", "ALVSystem", "ALVEngine", "ALVRun", "ALVTarget", "ALVCluster", "ALVTransport", "ALVReport", "ALVDashboard", "ALVForecast", "ALVPlanner",
                "ALVBuiltins", "ALVDistributed", "ALVLifecycle", "ALVProtocol", "ALVPrometheus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Micro-benchmarks that print figures (scripts/bench-*); never part of the tests.
        .executableTarget(name: "alv-bench", dependencies: ["ALVDashboard", "ALVPrometheus", "ALVLifecycle", "ALVForecast", "ALVTemplates", "ALVModel", "ALVMetrics", "ALVProtocol", "ALVRun", "ALVStore", "ALVTransport"]),

        // Helpers shared by the test targets: fixtures, temp dirs, running the built `alv`.
        .target(name: "ALVTesting", dependencies: ["ALVHTTPClient", "ALVPlanner", "ALVPrometheus", "ALVTarget"], path: "Tests/ALVTesting"),
        .testTarget(name: "ALVTemplatesTests", dependencies: ["ALVTemplates", "ALVTesting"]),
        .testTarget(name: "ALVModelTests", dependencies: ["ALVModel", "ALVTesting"]),
        .testTarget(name: "ALVMetricsTests", dependencies: ["ALVMetrics", "ALVTemplates"]),
        .testTarget(name: "ALVEngineTests", dependencies: ["ALVEngine", "ALVLifecycle", "ALVMetrics", "ALVModel", "ALVProtocol", "ALVTarget", "ALVTesting"]),
        .testTarget(name: "ALVProtocolTests", dependencies: ["ALVMetrics", "ALVModel", "ALVProtocol"]),
        .testTarget(name: "ALVLifecycleTests", dependencies: ["ALVLifecycle"]),
        .testTarget(
            name: "ALVClusterTests",
            dependencies: ["ALVCluster", "ALVDistributed", "ALVEngine", "ALVLifecycle", "ALVMetrics", "ALVModel", "ALVProtocol", "ALVRun", "ALVStore", "ALVTarget", "ALVTesting", "ALVTransport"]),
        .testTarget(name: "ALVRunTests", dependencies: ["ALVLifecycle", "ALVProtocol", "ALVEngine", "ALVMetrics", "ALVModel", "ALVRun", "ALVStore", "ALVTarget", "ALVTesting"]),
        .testTarget(name: "ALVReportTests", dependencies: ["ALVLifecycle", "ALVProtocol", "ALVEngine", "ALVModel", "ALVReport", "ALVRun", "ALVStore", "ALVTarget", "ALVTesting"]),
        .testTarget(name: "ALVStoreTests", dependencies: ["ALVStore", "ALVTesting"]),
        .testTarget(name: "ALVForecastTests", dependencies: ["ALVForecast", "ALVTesting"]),
        .testTarget(name: "ALVPlannerTests", dependencies: ["ALVCloud", "ALVForecast", "ALVModel", "ALVPlanner", "ALVProtocol", "ALVTesting"]),
        .testTarget(name: "ALVPrometheusTests", dependencies: ["ALVPrometheus", "CSnappy", "ALVTesting"]),
        .testTarget(name: "ALVCLITests", dependencies: ["ALVBuiltins", "ALVCloud", "ALVModel", "ALVPrometheus", "ALVStore", "ALVSystem", "ALVTemplates", "ALVTesting", "ALVTransport"]),
    ]
)

for target in package.targets where target.type != .system && target.type != .plugin {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
