import ALVTemplates
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct TemplateTests {
    func compile(_ source: String, _ escaping: TemplateEscaping = .none, data: TemplateData = TemplateData(environment: [:])) throws -> CompiledTemplate {
        try CompiledTemplate(source: source, escaping: escaping, data: data)
    }

    @Test func parsesEveryFunction() throws {
        let parsed = try ParsedTemplate.parse("a{{uuid}}{{ seq }}{{now_iso}}{{now_ms}}{{random_int(-3, 7)}}{{random_choice(x, 'y, z', \"q\\\"r\")}}{{env.HOME}}{{data.users.name}}b")
        let expressions = parsed.parts.compactMap { part -> TemplateExpression? in
            if case .expression(let e, _) = part { return e }
            return nil
        }
        #expect(expressions == [
            .uuid, .seq, .nowISO, .nowMs, .randomInt(-3, 7), .randomChoice(["x", "y, z", "q\"r"]), .env("HOME"),
            .data(file: "users", column: "name"),
        ])
        #expect(parsed.parts.first == .literal("a") && parsed.parts.last == .literal("b"))
    }

    @Test(arguments: [
        ("{{uuid", "never closed", 0),
        ("ab{{}}", "empty expression", 2),
        ("{{rand_int(1,2)}}", "did you mean 'random_int'", 0),
        ("{{random_int(5,1)}}", "MIN must not exceed MAX", 0),
        ("{{random_int(a,1)}}", "must be integers", 0),
        ("{{random_int(1)}}", "two integers", 0),
        ("{{random_choice()}}", "at least one", 0),
        ("{{uuid(3)}}", "takes no arguments", 0),
        ("{{data.users}}", "data.FILE.COLUMN", 0),
        ("{{env.}}", "env.NAME", 0),
        ("x {{random_choice('a)}}", "unclosed quote", 2),
    ])
    func rejectsBadTemplatesWithOffsets(source: String, fragment: String, offset: Int) {
        do {
            _ = try ParsedTemplate.parse(source)
            Issue.record("\(source) parsed")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
            #expect(error.offset == offset)
        }
    }

    @Test func randomIntCoversItsWholeRangeAndNothingElse() throws {
        let template = try compile("{{random_int(-2,2)}}")
        var context = RenderContext(seed: 1)
        var seen: [String: Int] = [:]
        for _ in 0..<10_000 { seen[template.render(context: &context), default: 0] += 1 }
        #expect(Set(seen.keys) == ["-2", "-1", "0", "1", "2"])
        for (_, count) in seen { #expect(abs(count - 2000) < 200) }
    }

    @Test func extremeRandomIntRangeDoesNotTrap() throws {
        let template = try compile("{{random_int(-9223372036854775807,9223372036854775806)}}")
        var context = RenderContext(seed: 9)
        #expect(Int64(template.render(context: &context)) != nil)
    }

    @Test func uuidsAreVersion4AndDistinct() throws {
        let template = try compile("{{uuid}}")
        var context = RenderContext(seed: 2)
        var seen = Set<String>()
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        for _ in 0..<1000 {
            let uuid = template.render(context: &context)
            #expect(uuid.wholeMatch(of: pattern) != nil, "\(uuid)")
            #expect(UUID(uuidString: uuid) != nil)
            seen.insert(uuid)
        }
        #expect(seen.count == 1000)
    }

    @Test func seqCountsUpPerRender() throws {
        let template = try compile("{{seq}}-{{seq}}")
        var context = RenderContext(seed: 3)
        #expect(template.render(context: &context) == "1-2")
        #expect(template.render(context: &context) == "3-4")
    }

    @Test(arguments: [Int64(0), 951_782_400_000, 1_796_115_600_250, 4_107_542_399_999, -1, 1_709_164_800_001])
    func nowISOMatchesFoundation(milliseconds: Int64) throws {
        let template = try compile("{{now_iso}}|{{now_ms}}")
        var context = RenderContext(seed: 4)
        context.nowMs = milliseconds
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        #expect(template.render(context: &context) == "\(expected)|\(milliseconds)")
    }

    @Test func sameSeedSameOutput() throws {
        let template = try compile("{{uuid}} {{random_int(1,1000000)}} {{random_choice(a,b,c,d)}}")
        var first = RenderContext(seed: 42), second = RenderContext(seed: 42), other = RenderContext(seed: 43)
        let a = template.render(context: &first), b = template.render(context: &second), c = template.render(context: &other)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func environmentIsSnapshotAndMissingVariablesFailCompilation() throws {
        let data = TemplateData(environment: ["TOKEN": "a\"b"])
        var context = RenderContext(seed: 5)
        #expect(try compile("{\"t\":\"{{env.TOKEN}}\"}", .json, data: data).render(context: &context) == #"{"t":"a\"b"}"#)
        #expect(throws: TemplateCompileError.self) { try compile("{{env.MISSING}}", data: data) }
        // Nothing comes from this process's own environment unless passed.
        #expect(throws: TemplateCompileError.self) { try compile("{{env.HOME}}", data: TemplateData()) }
        #expect(try compile("{\"w\":\"{{worker_id}}\"}", .json, data: TemplateData(workerID: "h\"1")).render(context: &context) == #"{"w":"h\"1"}"#)
        #expect(throws: TemplateSyntaxError.self) { try ParsedTemplate.parse("{{worker_id(1)}}") }
    }

    @Test func constantTemplatesAreMarked() throws {
        #expect(try compile("/plain/path").isConstant)
        #expect(try !compile("/x/{{seq}}").isConstant)
    }

    // MARK: Escaping

    static let hostile = ["plain", "quote \" here", "back\\slash", "<tag attr='x'>&amp;</tag>", "line\nbreak\r\ttab", "nul\u{0}ctl\u{1F}", "émoji 😀", "]]>", "{{seq}}"]

    func data(_ values: [String]) -> TemplateData {
        TemplateData(bindings: [.init(dataSet: DataSet(name: "d", columns: ["v"], rows: values.map { [$0] }), order: .sequential)], environment: [:])
    }

    @Test func jsonPayloadsStayValidWhateverTheValues() throws {
        let data = data(Self.hostile)
        let template = try compile("{\"v\":\"{{data.d.v}}\",\"c\":\"{{random_choice(\"a\\\"b\", 'c\\\\d')}}\",\"n\":{{random_int(1,5)}}}", .json, data: data)
        var context = RenderContext(seed: 6, data: data)
        for value in Self.hostile {
            let text = template.render(context: &context)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            #expect(object["v"] as? String == value)
            #expect(["a\"b", "c\\d"].contains(object["c"] as? String ?? ""))
            context.nextIteration(data: data)
        }
    }

    @Test func xmlPayloadsStayWellFormedWhateverTheValues() throws {
        let data = data(Self.hostile)
        let template = try compile("<?xml version=\"1.0\"?><r a=\"{{data.d.v}}\"><v>{{data.d.v}}</v><c>{{random_choice(\"<x>\",'a&b')}}</c></r>", .xml, data: data)
        var context = RenderContext(seed: 7, data: data)
        for value in Self.hostile {
            let text = template.render(context: &context)
            let collector = XMLCollector()
            let parser = XMLParser(data: Data(text.utf8))
            parser.delegate = collector
            #expect(parser.parse(), "not well-formed: \(text)")
            // XML 1.0 cannot carry most control characters: they are dropped, the rest survives.
            let expected = String(value.unicodeScalars.filter { $0.value >= 0x20 || [0x09, 0x0A, 0x0D].contains($0.value) })
            #expect(collector.text["v"] == expected, "\(text)")
            #expect(collector.attributes["a"] == expected.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") || collector.attributes["a"] == expected)
            #expect(["<x>", "a&b"].contains(collector.text["c"] ?? ""))
            context.nextIteration(data: data)
        }
    }

    @Test func urlAndHeaderEscaping() throws {
        let data = data(["a b&c=d/é"])
        var context = RenderContext(seed: 8, data: data)
        let url = try compile("/q?x={{data.d.v}}", .url, data: data).render(context: &context)
        #expect(url == "/q?x=a%20b%26c%3Dd%2F%C3%A9")
        #expect(URLComponents(string: url)?.queryItems?.first?.value == "a b&c=d/é")
        let header = try compile("v={{data.d.v}}", .header, data: self.data(["a\r\nInjected: 1"])).render(context: &context)
        #expect(!header.contains("\r") && !header.contains("\n"))
    }

    @Test func bodyEscapingFollowsContentTypeThenFirstCharacter() {
        #expect(TemplateEscaping.forBody(contentType: "application/json; charset=utf-8", template: "<x/>") == .json)
        #expect(TemplateEscaping.forBody(contentType: "text/xml", template: "{}") == .xml)
        #expect(TemplateEscaping.forBody(contentType: nil, template: "  {\"a\":1}") == .json)
        #expect(TemplateEscaping.forBody(contentType: nil, template: "<a/>") == .xml)
        #expect(TemplateEscaping.forBody(contentType: "text/plain", template: "{") == .none)
    }
}

final class XMLCollector: NSObject, XMLParserDelegate {
    var text: [String: String] = [:]
    var attributes: [String: String] = [:]
    private var current: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        current = name
        self.attributes.merge(attributes) { a, _ in a }
        text[name] = text[name] ?? ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let current { text[current, default: ""] += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        current = nil
    }
}
