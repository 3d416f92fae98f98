/// How meshd makes the host's resolver ask MagicDNS. systemd-resolved, where it runs, gets the
/// TUN link's own DNS server and `~<domain>` routing domain (the host's other resolvers stay
/// in charge of everything else, and resolved cleans up when the link goes). Without it,
/// /etc/resolv.conf is the only lever, and a file other software also writes is touched only
/// when the admin says so. "Runs" means more than an installed binary: resolvectl must exist,
/// resolved's runtime directory must be there, and resolved must answer (a container or a
/// netns without systemd has the binary and nothing behind it).
public enum HostDNSMode: Equatable, Sendable {
    case systemdResolved
    case resolvConf
    /// Nothing is changed; MagicDNS answers only whoever asks it directly.
    case none(reason: String)

    public struct Facts: Equatable, Sendable {
        /// Path of the resolvectl program, if one is on PATH.
        public var resolvectl: String?
        /// /run/systemd/resolve exists and is a directory.
        public var resolvedRuntimeDirectory: Bool
        /// systemd-resolved answered (resolvectl status exited 0 in time); nil: not asked,
        /// because one of the above is missing.
        public var resolvedAnswers: Bool?

        public init(resolvectl: String?, resolvedRuntimeDirectory: Bool, resolvedAnswers: Bool?) {
            self.resolvectl = resolvectl
            self.resolvedRuntimeDirectory = resolvedRuntimeDirectory
            self.resolvedAnswers = resolvedAnswers
        }

        /// Whether it is worth asking resolved at all (running resolvectl costs a process).
        public var worthAskingResolved: Bool { resolvectl != nil && resolvedRuntimeDirectory }

        public var resolvedPresent: Bool { worthAskingResolved && resolvedAnswers == true }

        /// Why resolved is taken to be absent, for the log.
        public var resolvedAbsence: String {
            if resolvectl == nil { return "no resolvectl on PATH" }
            if !resolvedRuntimeDirectory { return "no /run/systemd/resolve" }
            return "systemd-resolved does not answer"
        }
    }

    /// One log line: what was found and what meshd does about it.
    public static func summary(_ facts: Facts, _ mode: HostDNSMode) -> String {
        let found = facts.resolvedPresent ? "systemd-resolved runs" : "systemd-resolved is absent (\(facts.resolvedAbsence))"
        switch mode {
        case .systemdResolved: return "\(found): MagicDNS goes on the TUN link with resolvectl"
        case .resolvConf: return "\(found): meshd manages /etc/resolv.conf (opted in)"
        case .none(let reason): return "the host's resolver is left alone: \(reason)"
        }
    }

    public static func choose(_ facts: Facts, manageResolvConf: Bool) -> HostDNSMode {
        if facts.resolvedPresent { return .systemdResolved }
        if manageResolvConf { return .resolvConf }
        return .none(reason: "systemd-resolved is absent (\(facts.resolvedAbsence)) and /etc/resolv.conf is not ours to manage (meshd up --manage-resolv-conf, or manage_resolv_conf = true)")
    }
}
