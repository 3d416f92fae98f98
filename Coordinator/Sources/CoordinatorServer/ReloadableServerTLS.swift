import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The TLS identity of a listener that terminates TLS itself, swappable while it runs.
///
/// Each new connection takes the identity current at its accept; a reload (SIGHUP, see
/// `TLSReloadOnHangup`) swaps in a freshly loaded one, so certbot's deploy hook can renew the
/// certificate without a restart: established connections (long-polls, relay connections) keep
/// the TLS session they have, new ones get the new certificate. A reload that fails keeps
/// serving the previous identity. Nothing here logs key material.
public final class ReloadableServerTLS: Sendable {
    public let certificateFile: String
    public let keyFile: String
    private let identity: Mutex<ServerTLSIdentity>

    /// Loads both files now: a bad file is a start-up error, before anything listens.
    public init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        do {
            identity = Mutex(try ServerTLSIdentity.load(certificateFile: certificateFile, keyFile: keyFile))
        } catch let e as ServerTLSIdentity.LoadError {
            throw StartupError(e.description)
        }
    }

    public var current: ServerTLSIdentity { identity.withLock { $0 } }

    /// The handler for one new connection: the TLS server side with the current identity.
    func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: identity.withLock { $0.context })
    }

    public enum ReloadOutcome: Sendable, Equatable {
        case reloaded(serial: String, previousSerial: String)
        /// The files could not be used; `keptSerial` is still served.
        case failed(reason: String, keptSerial: String)
    }

    /// Reads both files again; swaps only when they load and match.
    @discardableResult
    public func reload() -> ReloadOutcome {
        let previous = current.serial
        do {
            let fresh = try ServerTLSIdentity.load(certificateFile: certificateFile, keyFile: keyFile)
            identity.withLock { $0 = fresh }
            return .reloaded(serial: fresh.serial, previousSerial: previous)
        } catch let e as ServerTLSIdentity.LoadError {
            return .failed(reason: e.description, keptSerial: previous)
        } catch {
            return .failed(reason: "\(error)", keptSerial: previous)
        }
    }

    /// `reload()` with its one log line.
    @discardableResult
    public func reload(logger: Logger, nowSeconds: Int64) -> ReloadOutcome {
        let outcome = reload()
        switch outcome {
        case .reloaded(let serial, let previous):
            let change = serial == previous ? "the same certificate again" : "was serial \(previous)"
            logger.notice("TLS certificate reloaded from \(certificateFile): \(current.summary(nowSeconds: nowSeconds)) (\(change)); new connections get it, open ones keep theirs")
        case .failed(let reason, let kept):
            logger.error("TLS reload failed, still serving serial \(kept): \(reason)")
        }
        return outcome
    }
}
