// swift-tools-version: 6.1
// netrepl: an interactive UDP/TCP client with GNU readline, and its companion uppercase server.
// Builds and is tested on Linux (glibc) only; no other platform is claimed. What is Linux-specific
// is in each wing's `Platform/…+Linux.swift` files and in SystemCalls, so that a port is a folder.
import PackageDescription

let package = Package(
    name: "netrepl",
    products: [
        .executable(name: "netrepl", targets: ["netrepl"]),
        .executable(name: "netrepl-server", targets: ["netrepl-server"]),
        .library(name: "NetREPLServer", targets: ["NetREPLServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // GNU readline (Debian: libreadline-dev), wrapped; only LineEditing imports it. Its headers
        // and library are on the default paths, and the module map links it: no pkg-config, whose
        // flags for readline SwiftPM refuses with a warning on every build.
        .systemLibrary(name: "CReadline"),
        .target(
            name: "LineEditing",
            dependencies: [
                "CReadline", "NetREPLCore", "NetREPLTransport", "SystemCalls",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Well-formed UTF-8 decoding, shared by the server's uppercaser and the client's sanitizer.
        .target(name: "UTF8Decoding"),
        // Protocol facts both executables share: host:port, datagram limits.
        // Both executables' --version comes from here: the VERSION file at the root, compiled in.
        .target(name: "NetREPLProtocol", plugins: ["VersionFile"]),
        // The written forms of durations and probabilities, one grammar for options and commands.
        .target(name: "Grammars"),
        // The seeded generator of the server's impairment and of the tests' shuffles.
        .target(name: "SeededRandom"),
        // Command-line option types both executables share (durations in the one grammar, ports).
        .target(
            name: "CommandLineOptions",
            dependencies: ["Grammars", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The one wrapper for the system calls swift-system does not make; the only place EINTR is seen.
        .target(
            name: "SystemCalls",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // Sockets, the wait, the UDP and TCP transports and the reply tracker; no terminal, no wording.
        .target(
            name: "NetREPLTransport",
            dependencies: [
                "NetREPLProtocol", "SystemCalls", "Grammars",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "NetREPLCore",
            dependencies: [
                "UTF8Decoding", "NetREPLProtocol", "NetREPLTransport", "SystemCalls", "Grammars",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "NetREPLServer",
            dependencies: [
                "UTF8Decoding", "NetREPLProtocol", "SystemCalls", "SeededRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // NIOLockedValueBox: a pthread mutex, which ThreadSanitizer sees (it does not see
                // the futex inside Synchronization's Mutex, and reports races under it).
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The load generator behind `netrepl bench`: plain sockets and its own threads, independent
        // of the interactive client's transports.
        // epoll and timerfd, which Glibc's module does not export; only NetREPLBench imports it.
        .systemLibrary(name: "CLinuxEvents"),
        .target(
            name: "NetREPLBench",
            dependencies: ["CLinuxEvents", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .plugin(name: "VersionFile", capability: .buildTool()),
        .executableTarget(
            name: "netrepl",
            dependencies: [
                "NetREPLCore", "NetREPLTransport", "LineEditing", "NetREPLServer", "CommandLineOptions", "NetREPLBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "netrepl-server",
            dependencies: [
                "NetREPLServer", "NetREPLProtocol", "CommandLineOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "NetREPLServerTests",
            dependencies: [
                "NetREPLServer", "NetREPLProtocol", "SeededRandom",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Servers that misbehave on purpose (delay, duplicate, flood, dribble, cut, reset), for tests only.
        .target(name: "MisbehavingPeers", path: "Tests/MisbehavingPeers"),
        // Drives the terminal line source as a live session does, for pty tests only.
        .executableTarget(
            name: "LiveLineProbe",
            dependencies: ["LineEditing", "NetREPLCore", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/LiveLineProbe"
        ),
        .testTarget(name: "NetREPLProtocolTests", dependencies: ["NetREPLProtocol", "Grammars"]),
        .testTarget(
            name: "NetREPLTransportTests",
            dependencies: ["NetREPLTransport", "NetREPLProtocol", "MisbehavingPeers", "SeededRandom"]
        ),
        .testTarget(
            name: "NetREPLCoreTests",
            dependencies: [
                "NetREPLCore", "NetREPLTransport", "MisbehavingPeers",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["NetREPLServer", "LineEditing", "MisbehavingPeers", "netrepl", "netrepl-server", "LiveLineProbe"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
