import MeshWire

/// A FIFO of frames with amortised O(1) push and pop and no dependency beyond the standard library.
struct FrameQueue: Sendable {
    private var items: [RelayFrame] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    mutating func append(_ f: RelayFrame) { items.append(f) }

    mutating func popFirst() -> RelayFrame? {
        guard head < items.count else { return nil }
        let f = items[head]
        items[head] = .keepAlive  // release the packet's storage now
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.count <= 1024)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return f
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
    }
}

extension RelayFrame {
    /// Bytes this frame occupies on the wire.
    var wireLength: Int {
        switch self {
        case .sendPacket(_, let p), .recvPacket(_, let p): return RelayFrame.headerLength + 32 + p.count
        case .serverInfo(let b), .ping(let b), .pong(let b): return RelayFrame.headerLength + b.count
        case .clientInfo(_, let n, let s): return RelayFrame.headerLength + 32 + n.count + s.count
        case .serverKey: return RelayFrame.headerLength + 32
        case .keepAlive: return RelayFrame.headerLength
        case .peerGone: return RelayFrame.headerLength + 33
        }
    }
}
