/// Setting a node up failed for a reason the admin can act on; the text is shown as it is.
public struct NodeSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
