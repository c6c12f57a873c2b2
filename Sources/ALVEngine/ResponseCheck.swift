import ALVMetrics
import ALVModel
import CCurl
import Foundation
import ALVTemplates

/// A step's expectations and captures, compiled once per unit: what is checked of each response, and which
/// of the virtual user's variables it fills.
struct ResponseCheck {
    enum Source {
        case json(JSONPathQuery)
        /// Lowercased header name.
        case header(String)
        case cookie(String)
        case regex(Regex<AnyRegexOutput>)
    }

    let status: [Int]?
    let bodyContains: [UInt8]?
    let json: [(query: JSONPathQuery, expected: JSONExpectation)]
    let maxNs: UInt64?
    let captures: [(slot: Int, source: Source, name: String, text: String)]
    let needsBody: Bool
    let needsHeaders: Bool

    /// - Parameter data: the unit's template data, whose `variables` already name every capture of the vector.
    init(_ step: FlowStep, data: TemplateData) throws {
        let expect = step.expect
        status = expect?.status
        bodyContains = expect?.bodyContains.map { Array($0.utf8) }
        json = try (expect?.json ?? [:]).sorted { $0.key < $1.key }.map { path, expected in
            guard let query = JSONPathQuery(path) else { throw EngineError.badUnit("expect.json: \(path) is not a JSONPath") }
            return (query, expected)
        }
        maxNs = expect?.maxMs.map { UInt64($0 * 1e6) }
        captures = try step.capture.sorted { $0.key < $1.key }.map { name, capture in
            guard let slot = data.variables.firstIndex(of: name) else { throw EngineError.badUnit("capture \(name) has no variable slot") }
            switch capture {
            case .json(let path):
                guard let query = JSONPathQuery(path) else { throw EngineError.badUnit("capture \(name): \(path) is not a JSONPath") }
                return (slot, .json(query), name, capture.text)
            case .header(let header): return (slot, .header(header.lowercased()), name, capture.text)
            case .cookie(let cookie): return (slot, .cookie(cookie), name, capture.text)
            case .regex(let pattern): return (slot, .regex(try Regex(pattern)), name, capture.text)
            }
        }
        needsBody = (expect?.needsBody ?? false) || step.capture.values.contains(where: \.needsBody)
        needsHeaders = step.capture.values.contains { if case .header = $0 { return true } else { return false } }
    }

    /// Checks one response and stores its captures in `variables` (a capture that finds nothing empties its
    /// variable). - Returns: nil when every expectation held and every capture found its value, else what failed first.
    func evaluate(status code: Int, body: [UInt8], headers: [(name: String, value: String)], jar: CookieJar?, elapsedNs: UInt64,
                  variables: inout [[UInt8]?]) -> String? {
        var failure: String?
        func fail(_ message: @autoclosure () -> String) { if failure == nil { failure = message() } }
        if let status, !status.contains(code) { fail("expected status \(status.map(String.init).joined(separator: " or ")), got \(code)") }
        if let maxNs, elapsedNs > maxNs { fail("took \(elapsedNs / 1_000_000) ms, more than max_ms \(maxNs / 1_000_000)") }
        if let bodyContains, !Self.contains(body, bodyContains) { fail("the body does not contain \(String(decoding: bodyContains, as: UTF8.self))") }
        var document: JSONNode??
        func parsed() -> JSONNode? {
            if let document { return document }
            let node = try? JSONReader.parse(body)
            document = .some(node)
            return node
        }
        for (query, expected) in json {
            guard let root = parsed() else {
                fail("the body is not JSON")
                continue
            }
            guard let node = query.select(in: root) else {
                fail("\(query.text) is not in the body")
                continue
            }
            if case .equals(let value) = expected, JSONValue(node) != value {
                fail("\(query.text) is \(JSONValue(node).jsonText), expected \(value.jsonText)")
            }
        }
        for (slot, source, name, text) in captures {
            var value: [UInt8]?
            switch source {
            case .json(let query):
                value = parsed().flatMap { query.select(in: $0) }.map { Array(JSONValue($0).capturedText.utf8) }
            case .header(let name):
                value = headers.last { $0.name == name }.map { Array($0.value.utf8) }
            case .cookie(let name):
                value = jar?.value(named: name).map { Array($0.utf8) }
            case .regex(let regex):
                let text = String(decoding: body, as: UTF8.self)
                if let match = try? regex.firstMatch(in: text) {
                    let output = match.output
                    let group = output.count > 1 ? output[1].substring : output[0].substring
                    value = group.map { Array($0.utf8) }
                }
            }
            if value == nil { fail("capture \(name) (\(text)) found nothing") }
            if slot < variables.count { variables[slot] = value }
        }
        return failure
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

/// Response bytes a checked step keeps: at most this much of a body (the rest is counted, not kept).
let keptBodyLimit = 1 << 20

/// Reads response bodies (CURLOPT_WRITEDATA is the Transfer): keeps the first `ErrorSample.bodyLimit` bytes of
/// each for an error sample, and the whole body (up to `keptBodyLimit`) when the step checks or captures from it.
let readBody: curl_write_callback = { pointer, size, count, userdata in
    let length = size &* count
    guard let pointer, let userdata else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        let head = min(ErrorSample.bodyLimit - transfer.bodyHeadLength, length)
        if head > 0 {
            (transfer.bodyHead + transfer.bodyHeadLength).update(from: bytes, count: head)
            transfer.bodyHeadLength += head
        }
        guard transfer.keepsBody else { return }
        let room = keptBodyLimit - transfer.responseBody.count
        if room > 0 { transfer.responseBody.append(contentsOf: UnsafeBufferPointer(start: bytes, count: min(room, length))) }
    }
    return length
}

/// Reads response header lines: `Set-Cookie` values for the user's jar, and every header when a capture
/// reads one (CURLOPT_HEADERDATA is the Transfer). A status line starts a new response (after a redirect or
/// a 100 Continue), whose headers replace the ones before. Lines are matched as bytes: only a line that is
/// kept becomes a String (this runs for every header of every response while cookies are on).
let readHeader: curl_write_callback = { pointer, size, count, userdata in
    let length = size &* count
    guard let pointer, let userdata, length > 2 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { start in
        let bytes = UnsafeBufferPointer(start: start, count: length)
        if bytes[0] == UInt8(ascii: "H"), length > 5, bytes[1] == UInt8(ascii: "T"), bytes[4] == UInt8(ascii: "/") {
            transfer.responseHeaders.removeAll(keepingCapacity: true)
            return length
        }
        let isCookie = length > setCookiePrefix.count && zip(bytes, setCookiePrefix).allSatisfy { $0 | 0x20 == $1 }
        guard isCookie || transfer.keepsHeaders else { return length }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return length }
        var end = length
        while end > colon + 1, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D || bytes[end - 1] == 0x20 { end -= 1 }
        var valueStart = colon + 1
        while valueStart < end, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
        let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<end]), as: UTF8.self)
        if isCookie && transfer.setCookies.count < CookieJar.capacity { transfer.setCookies.append(value) }
        if transfer.keepsHeaders && transfer.responseHeaders.count < 200 {
            transfer.responseHeaders.append((String(decoding: UnsafeBufferPointer(rebasing: bytes[..<colon]), as: UTF8.self).lowercased(), value))
        }
        return length
    }
}

/// `set-cookie:` in lowercase; a header byte OR 0x20 is compared with it (':' and '-' are unchanged by it).
private let setCookiePrefix = Array("set-cookie:".utf8)
