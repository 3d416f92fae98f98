import Hummingbird
import HummingbirdCore
import NIOCore

/// When a node API connection must have made progress, by phase:
/// - a new connection must deliver a complete request head within `headTimeout`;
/// - after a response, an idle keep-alive connection is closed after `idleTimeout`, and once
///   bytes of the next request arrive its head must be complete within `headTimeout`;
/// - a request's body must be complete within `idleTimeout` of its head;
/// - while a request is being answered there is no deadline: a map poll with `wait` is held
///   up to keepalive_seconds by its handler.
/// Before this, an unfinished head was held ~110 s (Hummingbird's idle timeout), which let a
/// single host pin a file descriptor per connection. Pure: times are inputs.
struct RequestDeadlines {
    enum Phase: Equatable {
        case waiting(since: NIODeadline, fresh: Bool)
        case readingHead(since: NIODeadline)
        case readingBody(since: NIODeadline)
        case responding
    }

    let headTimeout: TimeAmount
    let idleTimeout: TimeAmount
    private(set) var phase: Phase
    private(set) var openRequests = 0

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount, now: NIODeadline) {
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        phase = .waiting(since: now, fresh: true)
    }

    /// The instant the connection is to be closed at, or nil when none applies.
    var deadline: NIODeadline? {
        switch phase {
        case .waiting(let since, let fresh): return since + (fresh ? headTimeout : idleTimeout)
        case .readingHead(let since): return since + headTimeout
        case .readingBody(let since): return since + idleTimeout
        case .responding: return nil
        }
    }

    /// What the closing is logged as.
    var overdue: String {
        switch phase {
        case .waiting(_, true), .readingHead: return "no complete request head within \(headTimeout.nanoseconds / 1_000_000_000) s"
        case .waiting: return "idle keep-alive longer than \(idleTimeout.nanoseconds / 1_000_000_000) s"
        case .readingBody: return "request body not complete within \(idleTimeout.nanoseconds / 1_000_000_000) s"
        case .responding: return "responding"
        }
    }

    mutating func bytesArrived(now: NIODeadline) {
        if case .waiting = phase { phase = .readingHead(since: now) }
    }

    mutating func headArrived(now: NIODeadline) {
        openRequests += 1
        phase = .readingBody(since: now)
    }

    mutating func requestEnded() {
        if case .readingBody = phase { phase = .responding }
    }

    mutating func responseEnded(now: NIODeadline) {
        openRequests = max(0, openRequests - 1)
        if openRequests == 0, phase == .responding { phase = .waiting(since: now, fresh: false) }
    }
}

/// The loop-confined driver of `RequestDeadlines` for one connection: keeps one scheduled
/// task at the current deadline and closes the channel when it passes. Shared by the two
/// handlers that feed it (raw bytes at the front, HTTP parts behind the decoder).
final class ConnectionDeadlineTimer {
    var machine: RequestDeadlines
    let gate: ConnectionGate?
    private var scheduled: Scheduled<Void>?
    private var scheduledFor: NIODeadline?
    private var channel: (any Channel)?

    init(headTimeout: TimeAmount, idleTimeout: TimeAmount, gate: ConnectionGate?) {
        machine = RequestDeadlines(headTimeout: headTimeout, idleTimeout: idleTimeout, now: .now())
        self.gate = gate
    }

    func start(_ channel: any Channel) {
        self.channel = channel
        machine = RequestDeadlines(headTimeout: machine.headTimeout, idleTimeout: machine.idleTimeout, now: .now())
        reschedule()
    }

    func update(_ change: (inout RequestDeadlines) -> Void) {
        let before = machine.deadline
        change(&machine)
        if machine.deadline != before { reschedule() }
    }

    func stop() {
        scheduled?.cancel()
        scheduled = nil
        scheduledFor = nil
        channel = nil
    }

    private func reschedule() {
        guard let channel else { return }
        let target = machine.deadline
        guard target != scheduledFor else { return }
        scheduled?.cancel()
        scheduledFor = target
        guard let target else { scheduled = nil; return }
        scheduled = channel.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: target) { [self] in
            scheduled = nil
            scheduledFor = nil
            guard let ch = self.channel else { return }
            if let d = machine.deadline, d <= .now() {
                gate?.timedOut(machine.overdue)
                stop()
                ch.close(promise: nil)
            } else {
                reschedule()
            }
        }
    }
}

/// First in the pipeline: notices the first bytes of a request (a head in progress).
final class RawBytesDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let timer: ConnectionDeadlineTimer

    init(timer: ConnectionDeadlineTimer) { self.timer = timer }

    func handlerAdded(context: ChannelHandlerContext) { timer.start(context.channel) }
    func handlerRemoved(context: ChannelHandlerContext) { timer.stop() }
    func channelInactive(context: ChannelHandlerContext) {
        timer.stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timer.update { $0.bytesArrived(now: .now()) }
        context.fireChannelRead(data)
    }
}

/// Behind the HTTP decoder: sees request heads and ends, and response ends.
final class HTTPPartDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPConnectionStateHandler.InboundIn
    typealias InboundOut = HTTPConnectionStateHandler.InboundIn
    typealias OutboundIn = HTTPConnectionStateHandler.OutboundIn
    typealias OutboundOut = HTTPConnectionStateHandler.OutboundIn
    let timer: ConnectionDeadlineTimer

    init(timer: ConnectionDeadlineTimer) { self.timer = timer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: timer.update { $0.headArrived(now: .now()) }
        case .body: break
        case .end: timer.update { $0.requestEnded() }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { timer.update { $0.responseEnded(now: .now()) } }
        context.write(data, promise: promise)
    }
}
