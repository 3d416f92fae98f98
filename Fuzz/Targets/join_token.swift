// Join tokens (mesh1_ + base64url(key | secret | url | check)). First byte picks the mode:
//   even: the rest is the token text as pasted
//   odd:  the rest is the token body; the target appends the right checksum and encodes it, so
//         the key, secret and URL checks after the checksum are reached
import MeshCrypto
import MeshWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let mode = r.u8()
    let rest = r.rest()
    let text: String
    if mode & 1 == 0 {
        text = String(decoding: rest, as: UTF8.self)
        _ = Base64URL.decode(text)
    } else {
        let check = Array(BLAKE2s.hash(rest, outputLength: 32).prefix(4))
        text = JoinToken.prefix + Base64URL.encode(rest + check)
    }
    if let token = try? JoinToken(parsing: text) {
        // A token that parses prints as a token that parses to the same value.
        guard let again = try? JoinToken(parsing: token.encoded), again == token else {
            fatalError("join token does not round-trip")
        }
        _ = token.description
    }
    return 0
}
