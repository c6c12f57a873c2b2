/// A growable FIFO ring buffer (the open model's queue of arrivals waiting for a connection).
struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int = 64) {
        storage = Array(repeating: nil, count: max(1, capacity))
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == storage.count {
            var grown: [Element?] = Array(repeating: nil, count: storage.count * 2)
            for i in 0..<count { grown[i] = storage[(head + i) % storage.count] }
            storage = grown
            head = 0
        }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }
}

/// A binary min-heap of (time, item), for virtual users waiting to wake.
struct WakeHeap {
    private var times: [UInt64] = []
    private var items: [Int32] = []

    var isEmpty: Bool { times.isEmpty }
    var count: Int { times.count }
    var earliest: UInt64? { times.first }

    mutating func push(_ time: UInt64, _ item: Int) {
        times.append(time)
        items.append(Int32(item))
        var child = times.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard times[child] < times[parent] else { break }
            times.swapAt(child, parent)
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: UInt64, item: Int)? {
        guard let top = times.first else { return nil }
        let item = Int(items[0])
        let lastTime = times.removeLast(), lastItem = items.removeLast()
        if !times.isEmpty {
            times[0] = lastTime
            items[0] = lastItem
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < times.count && times[left] < times[smallest] { smallest = left }
                if right < times.count && times[right] < times[smallest] { smallest = right }
                if smallest == parent { break }
                times.swapAt(parent, smallest)
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (top, item)
    }
}
