// The protocol's transformation: Unicode full default uppercase mapping (Python's str.upper()),
// applied to a byte stream that may split UTF-8 sequences anywhere; invalid bytes pass unchanged.

import NIOCore
import UTF8Decoding

/// Streaming uppercaser for one TCP connection (or one whole UDP datagram).
///
/// Holds back at most three bytes: a valid but incomplete UTF-8 sequence at the end of a chunk,
/// completed by the next chunk or returned unchanged by `finish`. Everything else is emitted at once.
public struct StreamingUppercaser: Sendable {
    /// Bytes of an incomplete, so far valid, UTF-8 sequence held from the previous chunk.
    private var pending: (UInt8, UInt8, UInt8) = (0, 0, 0)
    private var pendingCount = 0

    public init() {}

    /// Number of bytes held back waiting for the rest of a UTF-8 sequence.
    public var pendingByteCount: Int { pendingCount }

    /// Transforms `input`, appending the result to `output`.
    public mutating func transform(_ input: ByteBuffer, into output: inout ByteBuffer) {
        input.withUnsafeReadableBytes { transform(UnsafeRawBufferPointer($0), into: &output) }
    }

    /// Transforms `input`, appending the result to `output`.
    public mutating func transform(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        var start = 0
        if pendingCount > 0 {
            start = completePending(with: input, into: &output)
            if pendingCount > 0 { return }  // still incomplete: all of input was absorbed
        }
        let tail = Self.transformPrefix(UnsafeRawBufferPointer(rebasing: input[start...]), into: &output)
        // `tail` bytes at the end form a valid incomplete sequence: hold them.
        var i = input.count - tail
        while i < input.count {
            appendPending(input[i])
            i += 1
        }
    }

    /// Ends the stream: any held-back incomplete sequence is returned unchanged.
    public mutating func finish(into output: inout ByteBuffer) {
        flushPendingRaw(into: &output)
    }

    /// Uppercases a whole message (a UDP datagram): no bytes are held back.
    public static func uppercase(_ input: ByteBuffer, into output: inout ByteBuffer) {
        var u = StreamingUppercaser()
        u.transform(input, into: &output)
        u.finish(into: &output)
    }

    /// Convenience for tests and small callers.
    public static func uppercase(_ bytes: [UInt8]) -> [UInt8] {
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count)
        bytes.withUnsafeBytes { raw in
            var u = StreamingUppercaser()
            u.transform(raw, into: &out)
            u.finish(into: &out)
        }
        return Array(out.readableBytesView)
    }

    // MARK: - Internals

    private mutating func appendPending(_ byte: UInt8) {
        switch pendingCount {
        case 0: pending.0 = byte
        case 1: pending.1 = byte
        default: pending.2 = byte
        }
        pendingCount += 1
    }

    private var pendingBytes: [UInt8] {
        [pending.0, pending.1, pending.2].prefix(pendingCount).map { $0 }
    }

    private mutating func flushPendingRaw(into output: inout ByteBuffer) {
        guard pendingCount > 0 else { return }
        output.writeBytes(pendingBytes)
        pendingCount = 0
    }

    /// Tries to complete the held sequence with the first bytes of `input`.
    /// Returns how many bytes of `input` were used.
    private mutating func completePending(with input: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> Int {
        var scratch = pendingBytes
        let take = min(input.count, 4 - pendingCount)
        scratch.append(contentsOf: input[0..<take])
        let held = pendingCount
        return scratch.withUnsafeBytes { raw -> Int in
            switch WellFormedUTF8.decode(raw, at: 0) {
            case .scalar(let value, let length):
                pendingCount = 0
                Self.appendUppercase(value, original: UnsafeRawBufferPointer(rebasing: raw[0..<length]), into: &output)
                return length - held
            case .incomplete:
                // Not enough bytes yet (input was shorter than needed): keep everything.
                for b in input[0..<take] { appendPending(b) }
                return take
            case .invalid, .ascii:
                // The held prefix cannot be completed: its bytes pass unchanged (each remaining
                // held byte is a continuation byte, invalid on its own), and input starts afresh.
                flushPendingRaw(into: &output)
                return 0
            }
        }
    }

    @inline(__always)
    static func appendUppercase(_ value: UInt32, original: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        guard let scalar = Unicode.Scalar(value), scalar.properties.changesWhenUppercased else {
            output.writeBytes(original)
            return
        }
        output.writeString(scalar.properties.uppercaseMapping)
    }

    /// Transforms as much of `input` as forms complete units; returns the length of an incomplete
    /// but valid sequence at the very end (0 to 3 bytes) that was not emitted.
    static func transformPrefix(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> Int {
        let n = input.count
        // Worst case ASCII is the same size; reserve it to keep the common path free of growth.
        output.reserveCapacity(minimumWritableBytes: n)
        var i = 0
        while i < n {
            // ASCII fast path: a run of bytes < 0x80, mapped a–z → A–Z in bulk.
            var j = i
            while j < n && input[j] < 0x80 { j += 1 }
            if j > i {
                let run = UnsafeRawBufferPointer(rebasing: input[i..<j])
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: run.count) { dst in
                    for k in 0..<run.count {
                        let b = run[k]
                        dst[k] = (b &- 0x61) < 26 ? b &- 0x20 : b
                    }
                    return run.count
                }
                i = j
                if i == n { break }
            }
            switch WellFormedUTF8.decode(input, at: i) {
            case .ascii:
                break  // not reached: handled by the run above
            case .scalar(let value, let length):
                appendUppercase(value, original: UnsafeRawBufferPointer(rebasing: input[i..<(i + length)]), into: &output)
                i += length
            case .invalid:
                output.writeInteger(input[i])
                i += 1
            case .incomplete:
                return n - i
            }
        }
        return 0
    }
}

extension ByteBuffer {
    /// Cuts the readable bytes to the longest prefix of at most `limit` bytes that does not end inside a
    /// well-formed UTF-8 multi-byte sequence. Returns true when something was cut.
    @discardableResult
    mutating func truncateAtCharacterBoundary(limit: Int) -> Bool {
        guard readableBytes > limit else { return false }
        var cut = limit
        // Step back over continuation bytes (at most three) to the start of the sequence.
        var steps = 0
        while cut > 0, steps < 3, let b = getInteger(at: readerIndex + cut, as: UInt8.self), b & 0xC0 == 0x80 {
            cut -= 1
            steps += 1
        }
        // Keep the step back only if a well-formed sequence starts there and runs past the limit:
        // continuation bytes that follow no such start are stray bytes, units of their own.
        if cut < limit {
            let splitsSequence = withUnsafeReadableBytes { raw -> Bool in
                guard case .scalar(_, let length) = WellFormedUTF8.decode(raw, at: cut) else { return false }
                return cut + length > limit
            }
            if !splitsSequence { cut = limit }
        }
        moveWriterIndex(to: readerIndex + cut)
        return true
    }
}
