import ALVModel
import ALVTemplates
import ALVTesting
import Foundation
import Testing

/// Mutates valid files thousands of times (delete a key, change a type, truncate, insert a byte,
/// rename a key) and checks the validator always answers with a model or with located errors.
@Suite struct MutationTests {
    enum Step { case key(String), index(Int) }

    static func paths(in value: Any, prefix: [Step] = []) -> [[Step]] {
        var result = [prefix]
        if let object = value as? [String: Any] {
            for (key, child) in object { result += paths(in: child, prefix: prefix + [.key(key)]) }
        } else if let array = value as? [Any] {
            for (index, child) in array.enumerated() { result += paths(in: child, prefix: prefix + [.index(index)]) }
        }
        return result
    }

    /// Applies `change` to the value at `path` (returning nil from `change` deletes it).
    static func mutate(_ value: Any, at path: ArraySlice<Step>, _ change: (Any) -> Any?) -> Any? {
        guard let step = path.first else { return change(value) }
        switch step {
        case .key(let key):
            guard var object = value as? [String: Any], let child = object[key] else { return value }
            object[key] = mutate(child, at: path.dropFirst(), change)
            return object
        case .index(let index):
            guard var array = value as? [Any], index < array.count else { return value }
            if let replaced = mutate(array[index], at: path.dropFirst(), change) { array[index] = replaced } else { array.remove(at: index) }
            return array
        }
    }

    // Immutable after initialisation: the values are only read.
    nonisolated(unsafe) static let replacements: [Any] = ["x", "", -1, 0, 1e12, 0.5, true, NSNull(), [Any](), [String: Any](), ["min": 9, "max": 1], "{{nope}}"]

    static func mutant(of bytes: [UInt8], random: inout SeededGenerator) -> [UInt8] {
        let choice = random.next(upperBound: 5 as UInt64)
        if choice == 3 { return Array(bytes.prefix(Int(random.next(upperBound: UInt64(bytes.count))))) }
        if choice == 4 {
            var copy = bytes
            copy.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next(upperBound: UInt64(bytes.count))))
            return copy
        }
        guard let tree = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return bytes }
        let all = paths(in: tree).filter { !$0.isEmpty }
        let path = all[Int(random.next(upperBound: UInt64(all.count)))]
        let changed: Any?
        switch choice {
        case 0: changed = mutate(tree, at: path[...]) { _ in nil }
        case 1:
            let replacement = replacements[Int(random.next(upperBound: UInt64(replacements.count)))]
            changed = mutate(tree, at: path[...]) { _ in replacement }
        default:
            // Rename the key at the end of the path to a near miss.
            guard case .key(let key) = path.last!, path.count >= 1 else { return bytes }
            changed = mutate(tree, at: path.dropLast()) { parent in
                guard var object = parent as? [String: Any] else { return parent }
                object[key + "s"] = object.removeValue(forKey: key)
                return object
            }
        }
        guard let changed, let data = try? JSONSerialization.data(withJSONObject: changed, options: [.fragmentsAllowed]) else { return bytes }
        return Array(data)
    }

    @Test func thousandsOfMutantsEndInAModelOrLocatedErrors() {
        var random = SeededGenerator(seed: 20261129)
        let vectors = Fixtures.jsonFiles(in: "config/vectors")
        let profiles = Fixtures.jsonFiles(in: "config/profiles")
        var accepted = 0, rejected = 0
        for round in 0..<4000 {
            let isProfile = round % 4 == 3
            let files = isProfile ? profiles : vectors
            let file = files[round % files.count]
            let bytes = Self.mutant(of: Fixtures.bytes(file), random: &random)
            let diagnostics: [Diagnostic]
            let valid: Bool
            if isProfile {
                let result = ProfileValidator.validate(bytes, file: "mutant.json", knownVectors: builtinVectorIDs)
                (diagnostics, valid) = (result.diagnostics, result.model != nil)
            } else {
                let result = VectorValidator.validate(bytes, file: "mutant.json", baseDirectory: Fixtures.path("config/vectors"))
                (diagnostics, valid) = (result.diagnostics, result.model != nil)
            }
            if valid {
                accepted += 1
                #expect(!diagnostics.hasErrors)
            } else {
                rejected += 1
                #expect(diagnostics.hasErrors, "rejected without an error")
                for d in diagnostics {
                    #expect(!d.path.isEmpty && !d.message.isEmpty && d.file == "mutant.json")
                }
            }
        }
        // Both outcomes must occur, or the mutations are not exercising anything.
        #expect(accepted > 100, "accepted \(accepted)")
        #expect(rejected > 2000, "rejected \(rejected)")
    }
}
