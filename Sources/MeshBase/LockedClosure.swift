import Synchronization

/// A closure that one thread sets and others read and call, e.g. a status source or a hook.
/// It sits in a struct inside the mutex because a closure held straight in a
/// `Mutex<closure?>` and read with `withLock { $0 }` is written back by Swift 6.3 wrapped in
/// two more reabstraction thunks on every read: each read then costs more than the last and
/// ~29,000 reads overflow the stack (meshcoord died so, see commit 601fc9f). In a struct field
/// the closure keeps its representation: reads stay flat.
public final class LockedClosure<Function: Sendable>: Sendable {
    private struct Held: Sendable { let function: Function }
    private let held: Mutex<Held?>

    public init(_ function: Function? = nil) { held = Mutex(function.map(Held.init)) }

    public var function: Function? {
        get { held.withLock { $0?.function } }
        set { held.withLock { $0 = newValue.map(Held.init) } }
    }
}
