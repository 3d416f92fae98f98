import CSodium
import MeshCrypto

/// The operating system's randomness (via libsodium), handed to the pure protocol modules.
public struct SystemEntropy: EntropySource {
    public init() { _ = Sodium.isReady }
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
    }
}
