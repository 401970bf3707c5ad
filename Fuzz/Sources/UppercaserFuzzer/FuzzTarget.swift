// The libFuzzer entry point: checks on every input the properties docs/PROTOCOL.md (Sections 6,
// 7.3, 8) promises of the streaming uppercaser and of the cut of a UDP reply to the largest datagram.
//
// Input layout: byte 0 picks the cut limit (bits 7 and 6 both set: also cut a reply of 64 KiB, the
// payload's reply repeated, at both MAX_UDP values), byte 1 seeds the chunk sizes the stream is
// split into, the rest is the payload. A violated property aborts with a message, and libFuzzer
// saves the input as a crash file.

import NIOCore
import UTF8Decoding

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    let (h0, h1) = data.count >= 2 ? (data[0], data[1]) : (0, 0)
    let payload = data.count >= 2 ? Array(data[2...]) : data
    let reference = Reference(payload)
    let whole = checkWhole(payload, reference)
    checkStreamed(payload, reference, whole: whole, seed: h1)
    checkCut(whole, limit: Int(h0 & 0x7F) * (whole.count + 3) / 127)
    if h0 & 0xC0 == 0xC0, !whole.isEmpty {
        // A reply longer than any datagram, cut as the UDP handler cuts it for IPv4 and IPv6 peers.
        var big = whole
        while big.count <= 65_527 + 3 { big += big }
        big.removeLast(big.count - (65_527 + 4))
        checkCut(big, limit: 65_507)
        checkCut(big, limit: 65_527)
    }
    return 0
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property violated: \(message())") }
}

/// The expected reply, built independently of the code under test: the standard library's UTF-8
/// parser splits the bytes into scalars and errors; each scalar becomes its `uppercased()`, each
/// error byte itself. Records, for each input offset where the reply may stop, the reply length.
private struct Reference {
    var output: [UInt8] = []
    /// outputLength[i]: reply length for input[0..<i], where i is not inside a well-formed sequence.
    var outputLength: [Int?]
    var isValidUTF8 = true

    init(_ input: [UInt8]) {
        outputLength = Array(repeating: nil, count: input.count + 1)
        outputLength[0] = 0
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = input.makeIterator()
        var offset = 0
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                output += String(Character(Unicode.UTF8.decode(encoded))).uppercased().utf8
                offset += encoded.count
                outputLength[offset] = output.count
            case .error(let length):
                isValidUTF8 = false
                for _ in 0..<length {
                    output.append(input[offset])
                    offset += 1
                    outputLength[offset] = output.count
                }
            case .emptyInput:
                break loop
            }
        }
    }
}

/// The whole payload in one call: the reply is the reference, and at most three times the payload.
private func checkWhole(_ payload: [UInt8], _ reference: Reference) -> [UInt8] {
    let whole = StreamingUppercaser.uppercase(payload)
    require(whole == reference.output, "reply differs from the reference for \(payload)")
    require(whole.count <= 3 * payload.count, "reply grew more than 3x: \(payload.count) -> \(whole.count)")
    if reference.isValidUTF8 {
        let text = String(decoding: payload, as: UTF8.self)
        require(whole == Array(text.uppercased().utf8), "valid text differs from uppercased(): \(payload)")
    }
    return whole
}

/// The payload in chunks: after every chunk at most three bytes are held, they are a valid but
/// incomplete sequence, everything before them has been answered, and the end result is `whole`.
private func checkStreamed(_ payload: [UInt8], _ reference: Reference, whole: [UInt8], seed: UInt8) {
    var uppercaser = StreamingUppercaser()
    var output = ByteBuffer()
    var state = UInt32(seed) &* 2_654_435_761 &+ 1
    let largest = Int(seed & 0x0F) + 1
    var consumed = 0
    while consumed < payload.count {
        state = state &* 1_103_515_245 &+ 12_345
        let size = min(payload.count - consumed, Int((state >> 16) % UInt32(largest + 1)))
        payload[consumed..<(consumed + size)].withUnsafeBytes { uppercaser.transform($0, into: &output) }
        consumed += size
        let held = uppercaser.pendingByteCount
        require(held <= 3, "\(held) bytes held back")
        let answered = consumed - held
        if held > 0 {
            let tail = Array(payload[answered..<consumed])
            tail.withUnsafeBytes { raw in
                require(WellFormedUTF8.decode(raw, at: 0) == .incomplete, "held bytes \(tail) are not an incomplete sequence")
            }
        }
        require(reference.outputLength[answered] == output.readableBytes,
                "after \(consumed) of \(payload) (\(held) held) the reply has \(output.readableBytes) bytes")
    }
    uppercaser.finish(into: &output)
    require(Array(output.readableBytesView) == whole, "the reply depends on the split of \(payload)")
}

/// The cut of a reply to `limit` octets (Section 7.3): a prefix, at most `limit` and at least
/// `limit - 3` octets long, that never ends inside a well-formed multi-byte sequence of the reply.
private func checkCut(_ reply: [UInt8], limit: Int) {
    var buffer = ByteBuffer(bytes: reply)
    let cut = buffer.truncateAtCharacterBoundary(limit: limit)
    let kept = Array(buffer.readableBytesView)
    require(cut == (reply.count > limit), "cut reported \(cut) for \(reply.count) bytes, limit \(limit)")
    require(kept.count <= limit || !cut, "kept \(kept.count) bytes over the limit \(limit)")
    require(!cut || kept.count >= limit - 3, "kept only \(kept.count) bytes of limit \(limit)")
    require(kept[...] == reply.prefix(kept.count), "the kept bytes are not a prefix of the reply")
    require(!splitsSequence(reply, at: kept.count),
            "cut at \(kept.count) (limit \(limit)) ends inside a well-formed sequence: \(Array(reply[max(0, kept.count - 4)..<min(reply.count, kept.count + 4)]))")
}

/// Whether offset `c` falls strictly inside a well-formed multi-byte sequence of `bytes`, by the
/// standard library's parser. Such a sequence starts at most 3 bytes before `c`, and parsing from
/// there is in step with a parse from the start: stray bytes before it are errors of one byte each.
private func splitsSequence(_ bytes: [UInt8], at c: Int) -> Bool {
    var offset = max(0, c - 3)
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes[offset..<min(bytes.count, c + 3)].makeIterator()
    while offset < c {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            if offset + encoded.count > c { return true }
            offset += encoded.count
        case .error(let length):
            offset += length
        case .emptyInput:
            return false
        }
    }
    return false
}
