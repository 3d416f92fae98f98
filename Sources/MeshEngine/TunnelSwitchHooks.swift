import MeshBase

/// What else follows `meshctl down` and `meshctl up` besides the TUN link: the host's DNS
/// settings (MagicDNS is unreachable while the link is down, so a resolver pointed at it
/// would stall every lookup). Called after the link changed, inside the switch's lock, so
/// a down and an up never interleave; before the answer goes back, so `meshctl down`
/// returning means the host's resolv.conf is its own again.
public final class TunnelSwitchHooks: Sendable {
    private let hook = LockedClosure<@Sendable (_ up: Bool) -> Void>()

    public init() {}

    public var onSwitched: (@Sendable (_ up: Bool) -> Void)? {
        get { hook.function }
        set { hook.function = newValue }
    }

    func switched(up: Bool) { onSwitched?(up) }
}
