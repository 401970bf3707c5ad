// swift-tools-version: 6.1
// netrepl: an interactive UDP/TCP client with GNU readline, and its companion uppercase server.
import PackageDescription

let package = Package(
    name: "netrepl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netrepl", targets: ["netrepl"]),
        .executable(name: "netrepl-server", targets: ["netrepl-server"]),
        .library(name: "NetREPLServer", targets: ["NetREPLServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // GNU readline, wrapped; only LineEditing imports it.
        .systemLibrary(
            name: "CReadline",
            pkgConfig: "readline",
            providers: [.apt(["libreadline-dev"])]
        ),
        .target(
            name: "LineEditing",
            dependencies: ["CReadline", "NetREPLCore"]
        ),
        // Well-formed UTF-8 decoding, shared by the server's uppercaser and the client's sanitizer.
        .target(name: "UTF8Decoding"),
        .target(
            name: "NetREPLCore",
            dependencies: [
                "UTF8Decoding",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "NetREPLServer",
            dependencies: [
                "UTF8Decoding",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // Both executables' --version: the VERSION file at the root, compiled in.
            plugins: ["VersionFile"]
        ),
        .plugin(name: "VersionFile", capability: .buildTool()),
        .executableTarget(
            name: "netrepl",
            dependencies: [
                "NetREPLCore", "LineEditing", "NetREPLServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "netrepl-server",
            dependencies: [
                "NetREPLServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "NetREPLServerTests",
            dependencies: [
                "NetREPLServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "NetREPLCoreTests",
            dependencies: ["NetREPLCore"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["NetREPLServer", "LineEditing", "netrepl", "netrepl-server"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
