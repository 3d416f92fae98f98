import Disco
import MeshBase
import Netcheck

/// Why a peer is reached through a relay rather than directly, in the few words
/// `meshctl status` shows next to the path. Pure: it reads only facts the node already has
/// (the last STUN probe, the endpoints the netmap publishes for the peer, disco Pings and
/// Pongs counted per peer, the coordinator's presence), so every verdict is testable.
///
/// The first fact that explains the relay wins, most certain first: a peer the coordinator
/// says is offline; UDP that never reached a STUN server from here; a NAT here that maps each
/// destination to its own port (hard NAT) in every family the peer could be reached in; a
/// peer that publishes no public endpoint (its NAT is hard, or UDP is blocked there: from
/// here the two look the same); and otherwise what disco saw: nothing tried yet, Pings that
/// no candidate answered, or a direct path that stopped answering.
public enum RelayReason {
    public struct Facts: Equatable, Sendable {
        /// The coordinator's presence for the peer (nil: not known).
        public var peerOnline: Bool?
        /// The last finished STUN probe from this node (nil: none finished yet).
        public var netcheck: NetcheckReport?
        /// The endpoints the netmap publishes for the peer.
        public var peerEndpoints: [UDPAddress]
        /// Disco Pings sent to the peer's candidates, and Pongs that answered one.
        public var pingsSent: UInt64
        public var pongsReceived: UInt64

        public init(peerOnline: Bool?, netcheck: NetcheckReport?, peerEndpoints: [UDPAddress],
                    pingsSent: UInt64, pongsReceived: UInt64) {
            self.peerOnline = peerOnline
            self.netcheck = netcheck
            self.peerEndpoints = peerEndpoints
            self.pingsSent = pingsSent
            self.pongsReceived = pongsReceived
        }
    }

    public static let peerOffline = "peer offline"
    public static let udpBlockedHere = "UDP blocked on this side"
    public static let hardNATHere = "hard NAT on this side"
    public static let hardNATBoth = "hard NAT on both sides"
    public static let peerUnreachable = "no public endpoint from peer: hard NAT or UDP blocked on peer"
    public static let notTriedYet = "direct candidates not tried yet"
    public static let noAnswerYet = "no answer yet on direct candidates"
    public static let directLost = "direct path stopped answering"

    /// The reason for a relayed peer (call it only when the path is relayed).
    public static func explain(_ f: Facts) -> String {
        if f.peerOnline == false { return peerOffline }
        if let report = f.netcheck, !report.udp { return udpBlockedHere }
        // Families in which the peer could be reached from outside its own site.
        let peerPublic = Set(f.peerEndpoints.filter { $0.isUsableCandidate && !$0.isPrivate && !$0.isLoopback }
            .map(\.isIPv4))
        if let report = f.netcheck {
            let hard = hardNATFamilies(report)
            if !hard.isEmpty {
                if peerPublic.isEmpty { return hardNATBoth }
                if peerPublic.isSubset(of: hard) { return hardNATHere }
            }
        }
        if peerPublic.isEmpty { return peerUnreachable }
        if f.pingsSent == 0 { return notTriedYet }
        if f.pongsReceived == 0 { return noAnswerYet }
        return directLost
    }

    /// The address families (true: IPv4) in which STUN servers saw this node from different
    /// public ports: a NAT that maps per destination, which a peer's Pings cannot get through
    /// unless the peer's own NAT is easy and our side happens to open the right port.
    public static func hardNATFamilies(_ report: NetcheckReport) -> Set<Bool> {
        Set([true, false].filter { v4 in
            let seen = report.mapped.filter { $0.key.isIPv4 == v4 }.map(\.value)
            return seen.count >= 2 && Set(seen).count > 1
        })
    }
}
