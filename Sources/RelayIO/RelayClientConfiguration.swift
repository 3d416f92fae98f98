import Logging
import MeshCrypto
import MeshHTTP
import MeshTLS
import MeshWire
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Relay
import Synchronization
import MeshBase

extension RelayClient {
    public struct Configuration: Sendable {
        /// How the relay frame stream is carried after `GET /relay`.
        public enum Transport: String, Sendable, Equatable, Hashable {
            /// `Upgrade: mesh-relay`, then the frames as raw bytes.
            case upgrade
            /// `Upgrade: websocket` (RFC 6455), then the frames inside binary WebSocket messages.
            case webSocket = "websocket"

            var other: Transport { self == .upgrade ? .webSocket : .upgrade }
        }

        public var host: String
        public var port: Int
        public var path: String = RelayService.path
        /// The Host header; default "host:port".
        public var hostHeader: String?
        /// TLS first (an `https://` relay, or one behind a TLS proxy); nil: plain TCP.
        public var tls: TLSClient?
        /// With `tls`: the connection is tunnelled through this proxy (CONNECT) unless it
        /// bypasses `host`.
        public var proxy: HTTPSProxy?
        public var relay: RelayClientConfig
        /// The transport of the first attempt.
        public var transport: Transport = .upgrade
        /// When the relay (or a proxy on the way) answers the upgrade with anything but 101,
        /// try the other transport at once: proxies that pass only WebSocket upgrades are
        /// common in front of relays and on 443-only networks. The working one is kept.
        public var fallBackToOtherTransport = true
        public var backoff = Backoff()
        /// The timers' granularity; fine enough for the close watch of a busy connection
        /// (`RelayClientConfig.watchedPongTimeout`).
        public var tickInterval: TimeAmount = .milliseconds(250)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// Outbound bytes buffered in the socket layer before `send` starts dropping.
        public var writeBufferHighWaterMark = 1 << 20

        public init(host: String, port: Int, pinnedServerKey: PublicKey? = nil) {
            self.host = host
            self.port = port
            self.relay = RelayClientConfig(pinnedServerKey: pinnedServerKey)
        }
    }
}
