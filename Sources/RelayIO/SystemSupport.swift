import MeshCrypto
import NIOCore
import MeshBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The relay drivers' clocks and randomness: the only places RelayIO reads them.
enum RelaySystem {
    static func now() -> MonotonicTime { MonotonicTime(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) }

    static func unixTime() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }
}

/// The operating system's randomness, through the standard library's generator (getrandom).
struct RelaySystemEntropy: EntropySource {
    var rng = SystemRandomNumberGenerator()
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var i = 0
        while i < buffer.count {
            let v = rng.next()
            Swift.withUnsafeBytes(of: v) { b in
                for j in 0..<min(8, buffer.count - i) { buffer[i + j] = b[j] }
            }
            i += 8
        }
    }
}

