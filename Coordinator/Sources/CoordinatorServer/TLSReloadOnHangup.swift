import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads a listener's TLS certificate and key on every SIGHUP (what a certbot deploy hook or
/// `systemctl reload` sends), until graceful shutdown.
///
/// The signal is trapped by `trap()` before the service group starts, so a SIGHUP that
/// arrives once meshcoord listens never takes the default action (ending the process).
struct TLSReloadOnHangup: Service {
    let tls: ReloadableServerTLS
    let hangups: UnixSignalsSequence
    let logger: Logger

    static func trap() async -> UnixSignalsSequence { await UnixSignalsSequence(trapping: .sighup) }

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading the TLS certificate and key")
            tls.reload(logger: logger, nowSeconds: Coordinator.nowSeconds())
        }
    }
}
