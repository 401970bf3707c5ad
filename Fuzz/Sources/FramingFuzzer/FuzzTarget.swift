// The libFuzzer entry point for the reply framers: whatever a peer sends, a framer answers without
// crashing, in time linear in what came, and consistently as the bytes arrive.
//
// Input layout: byte 0 picks the rule (and, for memcached and HTTP, the request it answers), the
// rest is what the server sent. Properties, checked on every prefix the split seed (byte 1) picks
// and on the whole:
// - a verdict on a prefix is never contradicted by more bytes: complete(L) stays complete(L),
//   malformed stays malformed, unasked(L) stays unasked(L);
// - complete and unasked lengths are within the bytes given, the terminator within the length;
// - an offset slice of the same bytes gets the same verdict (framers index by their slice).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    guard data.count >= 2 else { return 0 }
    let framing = rule(data[0])
    let wire = Array(data[2...])
    var settled: FrameVerdict?
    var settledAt = 0
    var state = UInt32(data[1]) &* 2_654_435_761 &+ 1
    var k = 0
    while k <= wire.count {
        let verdict = framing.frame(wire[..<k])
        check(verdict, given: k)
        if let settled {
            require(sameOutcome(settled, verdict), "verdict \(settled) at \(settledAt) became \(verdict) at \(k) for rule \(data[0])")
        } else if verdict != .needMore {
            settled = verdict
            settledAt = k
        }
        state = state &* 1_103_515_245 &+ 12_345
        k += 1 + Int((state >> 16) % 7)
    }
    let whole = framing.frame(wire[...])
    let shifted = ([0x5a, 0x5a] + wire)[2...]
    require(framing.frame(shifted) == whole, "an offset slice framed differently: \(whole) vs \(framing.frame(shifted))")
    _ = framing.endOfStreamCompletes(wire[...])
    return 0
}

/// Whether `later` is what `earlier` must stay as more bytes come.
private func sameOutcome(_ earlier: FrameVerdict, _ later: FrameVerdict) -> Bool {
    switch (earlier, later) {
    case (.malformed, .malformed): return true
    default: return earlier == later
    }
}

private func check(_ verdict: FrameVerdict, given count: Int) {
    switch verdict {
    case .complete(let length, let terminator):
        require(length <= count && terminator >= 0 && terminator <= length, "complete(\(length), \(terminator)) of \(count) bytes")
    case .unasked(let length):
        require(length > 0 && length <= count, "unasked(\(length)) of \(count) bytes")
    case .needMore, .malformed:
        break
    }
}

private func rule(_ byte: UInt8) -> any ReplyFraming {
    let http = HTTPFraming(host: "fuzz:80")
    switch byte % 12 {
    case 0: return RESPFraming()
    case 1: return MemcachedFraming().framing(for: Array("get a b".utf8))
    case 2: return MemcachedFraming().framing(for: Array("stats".utf8))
    case 3: return MemcachedFraming().framing(for: Array("set k 0 0 1\nx".utf8))
    case 4: return SMTPFraming()
    case 5: return http.framing(for: Array("GET /".utf8))
    case 6: return http.framing(for: Array("HEAD /".utf8))
    case 7: return LineCountFraming(count: Int(byte / 12) % 5 + 1)
    case 8: return UntilLineFraming(text: Array("END".utf8))
    case 9: return UntilLineFraming(text: [])
    case 10: return TerminatorFraming()
    default: return CRLFRequests(RESPFraming())
    }
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property violated: \(message())") }
}
