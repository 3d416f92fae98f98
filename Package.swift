// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mesh",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meshd", targets: ["meshd"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // libsodium: X25519, ChaCha20-Poly1305, XChaCha20-Poly1305, randombytes.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // What Swift cannot call directly: TUN ioctls, recvmmsg/sendmmsg, interface configuration.
        .target(name: "CMeshShim"),

        // Pure modules: no sockets, no clock, no randomness of their own.
        .target(name: "MeshCrypto", dependencies: ["CSodium"]),
        .target(name: "WireGuard", dependencies: ["MeshCrypto"]),
        .target(name: "MeshConfig", dependencies: ["MeshCrypto", "WireGuard"]),

        // Thin I/O drivers.
        .target(name: "MeshIO", dependencies: [
            "CMeshShim", "CSodium", "WireGuard", "MeshCrypto",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "meshd", dependencies: [
            "MeshIO", "MeshConfig", "WireGuard", "MeshCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .executableTarget(name: "meshctl", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        .testTarget(name: "MeshCryptoTests", dependencies: ["MeshCrypto"]),
        .testTarget(name: "WireGuardTests", dependencies: ["WireGuard", "MeshCrypto"]),
        .testTarget(name: "MeshConfigTests", dependencies: ["MeshConfig"]),
    ],
    swiftLanguageModes: [.v5]
)
