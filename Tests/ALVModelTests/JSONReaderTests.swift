import ALVTesting
import ALVModel
import Foundation
import Testing

@Suite struct JSONReaderTests {
    @Test func parsesEveryKindOfValueWithPositions() throws {
        let text = "{\n  \"a\": [1, -2.5e3, true, false, null],\n  \"b\": \"x\\u00e9\\ud83d\\ude00\\n\"\n}"
        let root = try JSONReader.parse(text)
        #expect(root.position == JSONPosition(line: 1, column: 1))
        let a = try #require(root["a"]?.elements)
        #expect(a.count == 5)
        #expect(a[0].value == .number(1, isInteger: true))
        #expect(a[1].value == .number(-2500, isInteger: false))
        #expect(a[1].position == JSONPosition(line: 2, column: 12))
        #expect(a[4].value == .null)
        #expect(root["b"]?.stringValue == "xé😀\n")
        #expect(root["b"]?.position == JSONPosition(line: 3, column: 8))
    }

    @Test func keepsDuplicateKeysForTheValidator() throws {
        let root = try JSONReader.parse(#"{"k": 1, "k": 2}"#)
        #expect(root.members?.count == 2)
    }

    @Test(arguments: [
        ("", "empty", 1, 1),
        ("{\"a\": 1,}", "trailing comma", 1, 9),
        ("{\"a\" 1}", "expected ':'", 1, 6),
        ("[1 2]", "comma missing", 1, 4),
        ("{'a': 1}", "expected a key", 1, 2),
        ("[01]", "leading zeros", 1, 3),
        ("[1.]", "after '.'", 1, 4),
        ("\"a\nb\"", "line break inside a string", 1, 3),
        ("\"\\x\"", "invalid escape", 1, 4),
        ("\"\\ud800\"", "surrogate", 1, 8),
        ("[tru]", "expected true", 1, 2),
        ("{\"a\": 1} x", "after the end", 1, 10),
        ("[1e999]", "out of range", 1, 7),
        ("{\n\n  \"a\": ]", "expected a JSON value", 3, 8),
    ])
    func reportsSyntaxErrorsWithLineAndColumn(input: String, fragment: String, line: Int, column: Int) {
        do {
            _ = try JSONReader.parse(input)
            Issue.record("\(input.debugDescription) parsed")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
            #expect(error.position == JSONPosition(line: line, column: column), "\(input.debugDescription): \(error)")
        }
    }

    @Test func boundsNestingInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONReader.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: Never.self) { try JSONReader.parse(fine) }
    }

    /// Every strict prefix of a document is incomplete: each must fail cleanly, never crash or succeed.
    @Test func everyPrefixOfAVectorFailsCleanly() throws {
        let bytes = Fixtures.bytes(Fixtures.path("config/vectors/crud-mixed.json"))
        #expect(throws: Never.self) { try JSONReader.parse(bytes) }
        let trimmed = Array(bytes.reversed().drop { $0 == 0x0A || $0 == 0x20 }.reversed())
        for end in 0..<trimmed.count {
            #expect(throws: JSONSyntaxError.self) { try JSONReader.parse(Array(trimmed[0..<end])) }
        }
    }

    /// Agrees with Foundation's parser on what is JSON, for a set of tricky documents (Foundation
    /// also accepts trailing commas, which RFC 8259 does not; alv reports them).
    @Test func agreesWithFoundationOnValidity() {
        let cases = [
            "{}", "[]", "0", "-0", "1E+2", "\"\\/\"", " [ ] ", "[\"\\u0000\"]", "{\"a\":{\"b\":[{}]}}",
            "{,}", "[.5]", "[+1]", "[0x10]", "[NaN]", "[\"\u{1}\"]", "{\"a\":1 \"b\":2}", "[\"a\\\"]",
        ]
        for text in cases {
            let ours = (try? JSONReader.parse(text)) != nil
            let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
            #expect(ours == foundation, "\(text.debugDescription): alv \(ours), Foundation \(foundation)")
        }
    }
}
