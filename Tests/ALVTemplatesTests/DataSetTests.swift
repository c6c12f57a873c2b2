import ALVTemplates
import Foundation
import Testing

@Suite struct DataSetTests {
    @Test func parsesQuotesCommasNewlinesCRLFAndBOM() throws {
        let text = "\u{FEFF}name,note\r\n\"Chloé \"\"CJ\"\"\",\"a, b\"\r\nbob,\"two\nlines\"\nempty,\n"
        let set = try DataSet.parse(name: "u", text: text, path: "u.csv")
        #expect(set.columns == ["name", "note"])
        #expect(set.rows == [["Chloé \"CJ\"", "a, b"], ["bob", "two\nlines"], ["empty", ""]])
    }

    @Test(arguments: [
        ("", "u.csv:1: the file is empty"),
        ("a,b\n", "u.csv:2: the file has a header but no data rows"),
        ("a,a\n1,2\n", "u.csv:1: column 'a' appears twice"),
        ("a,b\n1,2\n3\n", "u.csv:3: expected 2 fields as in the header, found 1"),
        ("a,b\n1,\"2\n", "u.csv:2: a quoted field is never closed"),
        ("a,,b\n1,2,3\n", "u.csv:1: the header has an empty column name"),
    ])
    func badFilesNameTheLine(text: String, message: String) {
        do {
            _ = try DataSet.parse(name: "u", text: text, path: "u.csv")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error)")
        }
    }

    func binding(_ order: DataOrder) -> TemplateData {
        TemplateData(bindings: [.init(dataSet: DataSet(name: "u", columns: ["n"], rows: (0..<5).map { ["\($0)"] }), order: order)], environment: [:])
    }

    func rows(for order: DataOrder, user: Int, count: Int) throws -> [String] {
        let data = binding(order)
        let template = try CompiledTemplate(source: "{{data.u.n}}", escaping: .none, data: data)
        var context = RenderContext(seed: UInt64(user), userIndex: user, data: data)
        return (0..<count).map { _ in
            defer { context.nextIteration(data: data) }
            return template.render(context: &context)
        }
    }

    @Test func sequentialWrapsAndSpreadsUsers() throws {
        #expect(try rows(for: .sequential, user: 0, count: 7) == ["0", "1", "2", "3", "4", "0", "1"])
        #expect(try rows(for: .sequential, user: 3, count: 3) == ["3", "4", "0"])
    }

    @Test func perUserKeepsOneRow() throws {
        #expect(try rows(for: .perUser, user: 7, count: 4) == ["2", "2", "2", "2"])
    }

    @Test func randomVisitsEveryRow() throws {
        #expect(Set(try rows(for: .random, user: 1, count: 200)) == ["0", "1", "2", "3", "4"])
    }

    @Test func missingColumnFailsCompilation() {
        #expect(throws: TemplateCompileError.self) { try CompiledTemplate(source: "{{data.u.zzz}}", escaping: .none, data: binding(.random)) }
        #expect(throws: TemplateCompileError.self) { try CompiledTemplate(source: "{{data.nope.n}}", escaping: .none, data: binding(.random)) }
    }
}
