import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// First handler of the node API's listening channel: when accept fails because descriptors
/// ran out (EMFILE/ENFILE), stops accepting for a moment and says so.
///
/// SwiftNIO (2.8x) keeps the listening socket registered for reads after such a failure on the
/// first accept of a cycle, so the event loop would retry at once, forever: measured, two
/// thirds of a core with nothing logged while every new connection timed out. Pausing
/// `autoRead` unregisters the socket; turning it back on after `pause` tries again. The
/// connection caps keep meshcoord below its limit, so this is the backstop when something
/// else took the descriptors.
final class AcceptPauseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let pause: TimeAmount
    let logger: Logger
    private var paused = false
    private var lastLog: NIODeadline?
    private var failures = 0

    init(pause: TimeAmount = .seconds(1), logger: Logger) {
        self.pause = pause
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == EMFILE || io.errnoCode == ENFILE {
            failures += 1
            let now = NIODeadline.now()
            if lastLog.map({ now - $0 >= .seconds(10) }) ?? true {
                lastLog = now
                let who = io.errnoCode == EMFILE ? "this process" : "the system"
                let text = "accept failed: \(who) has no free file descriptors (\(failures) time(s) in the last 10 s); " +
                    "pausing new connections for \(pause.nanoseconds / 1_000_000) ms"
                logger.error("\(text)")
                failures = 0
            }
            if !paused {
                paused = true
                let channel = context.channel
                try? channel.syncOptions?.setOption(.autoRead, value: false)
                context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: pause) { [self] in
                    paused = false
                    try? channel.syncOptions?.setOption(.autoRead, value: true)
                }
            }
        }
        context.fireErrorCaught(error)
    }
}
