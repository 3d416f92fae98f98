#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, carrying what was being done so the message is actionable.
public struct SystemError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code < 0 ? -code : code
    }
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
