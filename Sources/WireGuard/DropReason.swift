/// Why an incoming datagram or outgoing packet was not delivered. Drivers count these;
/// none of them is an error that stops anything.
public enum DropReason: String, Sendable, CaseIterable {
    case malformed
    case invalidMAC1
    case cookieRequired
    case invalidCookieReply
    case handshakeFailed
    case unknownPeer
    case replayedInitiation
    case initiationFlood
    case unknownIndex
    case expiredSession
    case replayed
    case decryptionFailed
    case sourceNotAllowed
    case invalidInnerPacket
    case noRoute
    case noEndpoint
    case stagingFull
    case packetTooLarge
}
