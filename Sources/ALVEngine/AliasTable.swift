import ALVTemplates

/// Vose's alias method: picks an index with the given weights in O(1) per draw.
public struct AliasTable: Sendable {
    let probability: [Double]
    let alias: [Int]

    /// - Parameter weights: non-negative, not all zero.
    public init(weights: [Double]) {
        let n = weights.count
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * Double(n) / total }
        var probability = [Double](repeating: 1, count: n)
        var alias = Array(0..<n)
        var small = scaled.indices.filter { scaled[$0] < 1 }
        var large = scaled.indices.filter { scaled[$0] >= 1 }
        while let s = small.popLast(), let l = large.popLast() {
            probability[s] = scaled[s]
            alias[s] = l
            scaled[l] = scaled[l] + scaled[s] - 1
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
        self.probability = probability
        self.alias = alias
    }

    @inline(__always)
    public func pick(_ random: inout SeededGenerator) -> Int {
        let column = Int(random.next(upperBound: UInt64(probability.count)))
        return random.nextUnit() < probability[column] ? column : alias[column]
    }
}
