import ALVReport
import ALVStore
import Foundation

/// `alv serve`'s view of the repository: every vector and profile at its latest version, and one document's
/// versions with the line diff between two of them.
enum RepositoryPages {
    static func list(_ repository: Repository) throws -> String {
        var html = page("alv: repository") + "<h1>Repository</h1>"
        for kind in [DocumentKind.profile, .vector] {
            html += "<h2>\(kind.rawValue)s</h2><table><tr><th>id</th><th>name</th><th>version</th><th>added</th></tr>"
            for d in try repository.latest(kind) {
                html += "<tr><td><a href=\"/repository/\(kind.rawValue)/\(xml(d.id))\">\(xml(d.id))</a></td><td class=\"l\">\(xml(d.name))</td><td>\(d.version)</td><td class=\"l\">\(xml(d.createdAt))</td></tr>"
            }
            html += "</table>"
        }
        return html + "</body></html>\n"
    }

    /// `/repository/KIND/ID?version=N&diff=M`: version N (default the latest), and its diff from M (default N−1).
    static func document(_ repository: Repository, kind: DocumentKind, id: String, query: [String: String]) throws -> String? {
        let versions = try repository.versions(kind, id: id)
        guard let latest = versions.last else { return nil }
        let version = query["version"].flatMap(Int.init).flatMap { versions.contains($0) ? $0 : nil } ?? latest
        guard let shown = try repository.document(kind, id: id, version: version) else { return nil }
        let previous = query["diff"].flatMap(Int.init) ?? versions.last { $0 < version }
        var html = page("alv: \(kind.rawValue) \(id)") + "<h1>\(kind.rawValue) \(xml(id)) <span class=\"muted\">version \(version) of \(versions.count)</span></h1>"
        html += "<p>versions: " + versions.map { v in v == version ? "<b>\(v)</b>" : "<a href=\"?version=\(v)\">\(v)</a>" }.joined(separator: " ") + "</p>"
        let text = pretty(shown.json)
        if let previous, let older = try repository.document(kind, id: id, version: previous) {
            html += "<h2>Changes from version \(previous)</h2><pre class=\"diff\">"
            for line in diff(pretty(older.json), text) {
                switch line {
                case .same(let l): html += " \(xml(l))\n"
                case .added(let l): html += "<ins>+\(xml(l))</ins>\n"
                case .removed(let l): html += "<del>-\(xml(l))</del>\n"
                }
            }
            html += "</pre>"
        }
        html += "<h2>Version \(version)</h2><pre>\(xml(text.joined(separator: "\n")))</pre>"
        return html + "</body></html>\n"
    }

    static func page(_ title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(xml(title))</title><meta name="referrer" content="no-referrer">
        <style>\(ServePages.style) pre{background:#f7fafc;padding:8px;font-size:12px;overflow:auto}ins{background:#c6f6d5;text-decoration:none;display:block}del{background:#fed7d7;text-decoration:none;display:block}</style></head><body>
        \(ServePages.nav())
        """
    }

    static func pretty(_ json: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    enum Line: Equatable {
        case same(String), added(String), removed(String)
    }

    /// A line diff by longest common subsequence (documents are small: at most a few thousand lines).
    static func diff(_ a: [String], _ b: [String]) -> [Line] {
        let n = a.count, m = b.count
        guard n * m <= 25_000_000 else { return a.map { .removed($0) } + b.map { .added($0) } }
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [Line] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] {
                out.append(.same(a[i])); i += 1; j += 1
            } else if j < m, i == n || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append(.added(b[j])); j += 1
            } else {
                out.append(.removed(a[i])); i += 1
            }
        }
        return out
    }
}
