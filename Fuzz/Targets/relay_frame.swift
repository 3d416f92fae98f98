// The relay's frame stream (type | length | payload): the decoder is fed the input in chunks
// whose sizes the input also chooses, as TCP/WebSocket reads split a stream arbitrarily.
// Every frame that decodes must re-encode to bytes that decode to the same frame.
import MeshCrypto
import MeshWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let split = Int(r.u8())
    let stream = r.rest()
    var decoder = RelayFrameDecoder()
    var i = 0
    var step = max(1, split)
    while i < stream.count {
        let end = min(stream.count, i + step)
        decoder.append(stream[i..<end])
        i = end
        step = step &* 3 % 257 + 1
        while true {
            let frame: RelayFrame?
            do { frame = try decoder.next() } catch { return 0 }  // a bad stream ends the connection
            guard let frame else { break }
            var again = RelayFrameDecoder()
            again.append(frame.encoded)
            guard let back = try? again.next(), back == frame else {
                fatalError("relay frame does not round-trip: \(frame)")
            }
        }
    }
    return 0
}
