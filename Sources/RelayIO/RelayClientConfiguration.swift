import Logging
import MeshCrypto
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
        public enum Transport: Sendable, Equatable {
            /// `Upgrade: mesh-relay`, then the frames as raw bytes.
            case upgrade
            /// `Upgrade: websocket` (RFC 6455), then the frames inside binary WebSocket messages.
            case webSocket
        }

        public var host: String
        public var port: Int
        public var path: String = RelayService.path
        /// The Host header; default "host:port".
        public var hostHeader: String?
        /// TLS first (an `https://` relay, or one behind a TLS proxy); nil: plain TCP.
        public var tls: TLSClient?
        public var relay: RelayClientConfig
        public var transport: Transport = .upgrade
        public var backoff = Backoff()
        public var tickInterval: TimeAmount = .seconds(1)
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
