/// Why a policy file (or its HuJSON) was refused: where, and one sentence saying why. The
/// coordinator shows it as `line:column: reason` and keeps the running policy.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var position: SourcePosition
    public var reason: String

    public init(_ reason: String, at position: SourcePosition) {
        self.position = position
        self.reason = reason
    }

    public var description: String { "\(position): \(reason)" }
}
