// swift-tools-version: 6.1
// The libFuzzer targets for the server's streaming uppercaser and its UDP cut, and for the client's
// reply framers; built and run by scripts/fuzz.
//
// A package of its own, so that fuzzing instruments NIOCore only, not the whole server. The
// uppercaser's two source files and the framers' are symbolic links into ../Sources: the code
// fuzzed is the code shipped.
import PackageDescription

let package = Package(
    name: "netrepl-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        .target(name: "UTF8Decoding"),
        .executableTarget(
            name: "UppercaserFuzzer",
            dependencies: ["UTF8Decoding", .product(name: "NIOCore", package: "swift-nio")],
            // libFuzzer provides main(); the target only defines LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FramingFuzzer",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
