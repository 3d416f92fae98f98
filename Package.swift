// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mesh",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meshd", targets: ["meshd"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
        .executable(name: "meshcoord", targets: ["meshcoord"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
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
        // Non-trapping arithmetic and conversions for numbers from outside (network, files, flags).
        .target(name: "CheckedArithmetic"),
        .target(name: "MeshCrypto", dependencies: ["CSodium", "CFastAEAD", "CheckedArithmetic", "MeshBase"]),
        // ChaCha20-Poly1305 through the BoringSSL swift-nio-ssl links in, by weak symbols: used
        // where the process has it (meshd), libsodium elsewhere (TransportCipher).
        .target(name: "CFastAEAD"),
        // One home for the primitives several layers share: monotonic time, UDP addresses.
        .target(name: "MeshBase"),
        .testTarget(name: "MeshBaseTests", dependencies: ["MeshBase"]),
        .target(name: "WireGuard", dependencies: ["MeshCrypto", "MeshBase"]),
        .target(name: "MeshConfig", dependencies: ["MeshCrypto", "MeshBase"]),
        // TSO/USO and GRO done in the node for the TUN's virtio-net header: splitting the
        // kernel's super-packets and merging received segments back into them (pure).
        .target(name: "PacketOffload"),
        .testTarget(name: "PacketOffloadTests", dependencies: ["PacketOffload"]),

        // Thin I/O drivers.
        .target(name: "MeshIO", dependencies: [
            "CMeshShim", "PacketOffload", "CSodium", "WireGuard", "MeshCrypto", "MeshPolicy",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The node as a library: both modes' runtime, mesh mode's paths (disco, relays, STUN),
        // following the coordinator; meshd is its command line.
        .target(name: "MeshEngine", dependencies: [
            "MeshIO", "MeshConfig", "WireGuard", "MeshCrypto", "MeshNode", "MeshWire",
            "MagicSock", "Netcheck", "RelayIO", "MeshStatus", "MeshTLS", "MeshHTTP", "MeshLocalAPI", "MeshBase", "MeshPolicy",
            "MeshDNS",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "MeshTLSTests", dependencies: [
            "MeshTLS", "MeshHTTP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "MeshEngineTests", dependencies: ["MeshEngine", "Netcheck", "MeshWire", "MeshCrypto", "MeshStatus", "MeshIO",
            "MeshLocalAPI", "MeshBase", "MeshPolicy", "MeshDNS", "MeshNode",
            .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "meshd", dependencies: [
            "MeshEngine", "MeshIO", "MeshConfig", "WireGuard", "MeshCrypto", "MeshNode", "MeshWire",
            "MeshStatus", "MeshTLS", "MeshHTTP", "MeshLocalAPI", "MeshDNS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .executableTarget(name: "meshctl", dependencies: [
            "MeshStatus", "MeshLocalAPI", "MeshBase",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The local API's contract (pure): request lines, the answers' Codable types (the
        // stable `--json` schemas of meshctl), peer lookup, metrics, and the one version string.
        .target(name: "MeshLocalAPI", dependencies: ["MeshStatus", "MeshBase"]),
        .testTarget(name: "MeshLocalAPITests", dependencies: ["MeshLocalAPI", "MeshStatus"]),

        // The node's status as meshd reports it and meshctl shows it (pure, Codable).
        .target(name: "MeshStatus"),
        .testTarget(name: "MeshStatusTests", dependencies: ["MeshStatus"]),

        // Wire formats shared by node and coordinator (pure): STUN, control messages, sealing, join tokens.
        .target(name: "MeshWire", dependencies: ["MeshCrypto", "CheckedArithmetic"]),
        // Disco: sealed Ping/Pong/CallMeMaybe and the per-peer path state machine (pure).
        .target(name: "Disco", dependencies: ["MeshCrypto", "MeshBase"]),
        // Mesh mode's path layer: disco, path choice and relay steering over the one socket.
        .target(name: "MagicSock", dependencies: ["Disco", "MeshIO", "WireGuard", "MeshCrypto"]),
        // Netcheck: STUN probing of the node's own network (pure).
        .target(name: "Netcheck", dependencies: ["MeshWire", "MeshCrypto", "MeshBase"]),

        // TLS towards the coordinator (or its proxy) and the relays: one client context, system
        // roots plus an optional private CA.
        .target(name: "MeshTLS", dependencies: [
            "MeshBase",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // A deliberately small HTTP/1.1 client shared by meshcoord, meshctl/meshd drivers and tests.
        .target(name: "MeshHTTP", dependencies: [
            "MeshTLS", "MeshWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // The coordinator. Only its server module imports the HTTP framework.
        .target(name: "CoordinatorStore", dependencies: [
            "MeshWire", "MeshCrypto", "MeshBase",
            .product(name: "GRDB", package: "GRDB.swift"),
        ], path: "Coordinator/Sources/CoordinatorStore"),
        .target(name: "CoordinatorServer", dependencies: [
            "CoordinatorStore", "MeshConfig", "MeshWire", "MeshCrypto", "CSodium", "MeshHTTP", "MeshTLS", "Relay", "RelayIO",
            "MeshPolicy", "MeshBase",
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Coordinator/Sources/CoordinatorServer"),
        .executableTarget(name: "meshcoord", dependencies: [
            "CoordinatorServer", "CoordinatorStore", "MeshWire", "MeshCrypto", "MeshHTTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Coordinator/Sources/meshcoord"),

        // What several test targets share: bounded polling waits and an in-process coordinator.
        .target(name: "MeshTestSupport", dependencies: [
            "CoordinatorServer", "MeshHTTP", "MeshWire",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/MeshTestSupport"),

        // Benchmarks that need to be built (Benchmarks/*.sh drive the lab ones).
        .target(name: "CAllocationCounter", path: "Benchmarks/CAllocationCounter"),
        .executableTarget(name: "relay-allocations", dependencies: [
            "CAllocationCounter", "MagicSock", "MeshCrypto", "MeshWire", "Relay", "RelayIO", "WireGuard", "MeshIO",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Benchmarks/RelayAllocations"),
        // The packet filter's cost per packet, alone and as the data plane shares it.
        .executableTarget(name: "packet-filter-cost", dependencies: [
            "CAllocationCounter", "MeshPolicy", "MeshIO", "MeshBase", "MeshCrypto", "WireGuard",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/PacketFilterCost"),
        // The data path's hot functions in ns per packet (issue 12): seal, open, replay check,
        // routing, segmentation, coalescing, checksum; fails if one allocates.
        // NIOSSL: linked for its BoringSSL, as in meshd, so `Device` seals with the same cipher.
        .executableTarget(name: "data-path-cost", dependencies: [
            "CAllocationCounter", "WireGuard", "MeshCrypto", "PacketOffload",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Benchmarks/DataPathCost"),

        .testTarget(name: "CheckedArithmeticTests", dependencies: ["CheckedArithmetic"]),
        .testTarget(name: "MeshCryptoTests", dependencies: ["MeshCrypto"]),
        .testTarget(name: "DiscoTests", dependencies: ["Disco", "MeshBase", "MeshCrypto"]),
        .testTarget(name: "MeshHTTPTests", dependencies: ["MeshHTTP", "MeshWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "MeshIOTests", dependencies: ["MeshIO", "WireGuard", "MeshCrypto", "MeshTestSupport", "MeshPolicy", "MeshBase",
            .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MagicSockTests", dependencies: ["MagicSock", "Disco", "MeshIO", "WireGuard", "MeshCrypto"]),
        .testTarget(name: "NetcheckTests", dependencies: ["Netcheck", "MeshWire", "MeshBase", "MeshCrypto"]),
        .testTarget(name: "MeshWireTests", dependencies: ["MeshWire", "MeshCrypto"]),
        .testTarget(name: "CoordinatorStoreTests", dependencies: ["CoordinatorStore", "MeshWire", "MeshCrypto"],
                    path: "Coordinator/Tests/CoordinatorStoreTests"),
        .testTarget(name: "CoordinatorServerTests", dependencies: [
            "CoordinatorServer", "CoordinatorStore", "MeshWire", "MeshCrypto", "MeshHTTP", "MeshTLS", "Relay", "RelayIO", "MeshTestSupport",
            "MeshPolicy", "MeshBase",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Coordinator/Tests/CoordinatorServerTests"),
        .testTarget(name: "WireGuardTests", dependencies: ["WireGuard", "MeshCrypto"]),
        .testTarget(name: "MeshConfigTests", dependencies: ["MeshConfig"]),

        // Mesh mode of meshd: state dir, control client, netmap following (no HTTP framework).
        .target(name: "MeshNode", dependencies: [
            "MeshIO", "MeshWire", "MeshHTTP", "MeshTLS", "MeshConfig", "WireGuard", "MeshCrypto", "MeshDNS", "MeshBase",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "MeshNodeTests", dependencies: [
            "MeshNode", "CoordinatorServer", "CoordinatorStore", "MeshWire", "MeshHTTP", "MeshCrypto", "WireGuard", "MeshTestSupport", "MeshDNS",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),

        // Access policy (pure): the HuJSON policy file, its evaluation and tests, per-node
        // compilation and the receiving side's stateful packet filter.
        .target(name: "MeshPolicy", dependencies: ["MeshBase", "CheckedArithmetic"]),
        .testTarget(name: "MeshPolicyTests", dependencies: ["MeshPolicy", "MeshBase", "CAllocationCounter"]),

        // MagicDNS (pure): DNS query parsing with bounded name compression, the name table
        // built from the netmap, and the answer-or-forward decision.
        .target(name: "MeshDNS", dependencies: ["MeshBase"]),
        .testTarget(name: "MeshDNSTests", dependencies: ["MeshDNS", "MeshBase"]),

        // DERP-style relay: the pure client/server state machines, and their SwiftNIO drivers.
        .target(name: "Relay", dependencies: ["MeshWire", "MeshCrypto", "MeshBase"]),
        .target(name: "RelayIO", dependencies: [
            "Relay", "MeshWire", "MeshCrypto", "MeshBase", "MeshTLS", "MeshHTTP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "RelayTests", dependencies: ["Relay", "MeshWire", "MeshCrypto", "WireGuard"]),
        .testTarget(name: "RelayIOTests", dependencies: [
            "RelayIO", "Relay", "MeshWire", "MeshCrypto", "WireGuard", "MeshTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
