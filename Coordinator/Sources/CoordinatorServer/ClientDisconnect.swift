import NIOCore
import Synchronization

/// Fires once when the client of a connection goes away: its side of the TCP connection
/// closed (a killed process's socket is closed by its kernel; a proxy closes its upstream
/// connection when its own client goes) or the connection closed altogether. A waiting map
/// poll watches it so the node's presence follows its connection (see
/// `NetworkHub.pollEnded(_:now:clientGone:)`), not the keep-alive timer.
final class ClientDisconnect: Sendable {
    private struct State {
        var gone = false
        var waiter: CheckedContinuation<Void, Never>?
        /// A wait cancelled before it could park its continuation.
        var cancelledEarly = false
    }
    private let state = Mutex(State())

    var hasGone: Bool { state.withLock { $0.gone } }

    func fire() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.gone = true
            defer { s.waiter = nil }
            return s.waiter
        }
        c?.resume()
    }

    /// Returns when the client is gone, or when the calling task is cancelled. One waiter at
    /// a time (a poll waits in one place).
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.gone || s.cancelledEarly || s.waiter != nil { s.cancelledEarly = false; return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.waiter { s.waiter = nil; return c }
                s.cancelledEarly = true
                return nil
            }
            c?.resume()
        }
        state.withLock { $0.cancelledEarly = false }
    }

    /// Watches `channel` from now on: a handler at the front of its pipeline (before TLS, so
    /// a client that vanishes without a TLS close is seen too) fires `self` on the end of the
    /// client's input or the channel's close. A channel already closed fires at once.
    func watch(_ channel: any Channel) async {
        let signal = self
        let added = channel.eventLoop.submit {
            if !channel.isActive { signal.fire(); return }
            try channel.pipeline.syncOperations.addHandler(ClientDisconnectHandler(signal: signal), position: .first)
        }
        do { try await added.get() } catch { signal.fire() }
    }
}

/// The pipeline end of `ClientDisconnect`; passes every event on.
final class ClientDisconnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let signal: ClientDisconnect
    init(signal: ClientDisconnect) { self.signal = signal }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { signal.fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        signal.fire()
        context.fireChannelInactive()
    }
}
