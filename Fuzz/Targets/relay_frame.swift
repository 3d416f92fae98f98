// The relay's frame stream (type | length | payload): the decoder is fed the input in chunks
// whose sizes the input also chooses, as TCP/WebSocket reads split a stream arbitrarily.
// Every frame that decodes must re-encode to bytes that decode to the same frame. A second
// decoder takes the same chunks through the data path's in-place reader
// (`next(deliveringPackets:)`, raw-buffer `append`): it must see exactly the same frames, with
// each RecvPacket delivered in place instead of returned, and fail exactly where the first does.
import MeshCrypto
import MeshWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var r = FuzzReader(data, size)
    let split = Int(r.u8())
    let stream = r.rest()
    var decoder = RelayFrameDecoder()
    var inPlace = RelayFrameDecoder()
    var i = 0
    var step = max(1, split)
    while i < stream.count {
        let end = min(stream.count, i + step)
        decoder.append(stream[i..<end])
        Array(stream[i..<end]).withUnsafeBytes { inPlace.append($0) }
        i = end
        step = step &* 3 % 257 + 1
        var expected: [RelayFrame] = []
        var failed = false
        while true {
            let frame: RelayFrame?
            do { frame = try decoder.next() } catch { failed = true; break }  // a bad stream ends the connection
            guard let frame else { break }
            var again = RelayFrameDecoder()
            again.append(frame.encoded)
            guard let back = try? again.next(), back == frame else {
                fatalError("relay frame does not round-trip: \(frame)")
            }
            expected.append(frame)
        }
        var seen: [RelayFrame] = []
        var inPlaceFailed = false
        while true {
            let frame: RelayFrame?
            do {
                frame = try inPlace.next(deliveringPackets: { source, payload in
                    seen.append(.recvPacket(source: source, packet: Array(payload)))
                })
            } catch { inPlaceFailed = true; break }
            guard let frame else { break }
            seen.append(frame)
        }
        guard seen == expected, inPlaceFailed == failed else {
            fatalError("in-place decoding differs: \(seen.count) frames, failed \(inPlaceFailed); expected \(expected.count), failed \(failed)")
        }
        if failed { return 0 }
    }
    return 0
}
