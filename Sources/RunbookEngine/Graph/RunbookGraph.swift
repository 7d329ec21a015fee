/// The step DAG of a runbook: who needs whom, what is ready, and in which order steps can run.
///
/// Edges run from a step to the steps it `needs`. Needs naming unknown steps are ignored (the parser reports
/// them), and a repeated step id keeps only its first step.
public struct RunbookGraph: Sendable, Equatable {
    /// One step as the graph sees it.
    public struct Node: Sendable, Equatable {
        public var id: String
        public var description: String
        public var action: String
        /// Direct dependencies in file order.
        public var needs: [String]
        public var approvalRequired: Bool
        public var irreversible: Bool
        public var hasCompensation: Bool
        public var hasWaiter: Bool

        public init(
            id: String, description: String = "", action: String = "", needs: [String] = [],
            approvalRequired: Bool = false, irreversible: Bool = false, hasCompensation: Bool = false, hasWaiter: Bool = false
        ) {
            self.id = id
            self.description = description
            self.action = action
            self.needs = needs
            self.approvalRequired = approvalRequired
            self.irreversible = irreversible
            self.hasCompensation = hasCompensation
            self.hasWaiter = hasWaiter
        }

        /// The graph's view of `step`.
        public init(_ step: StepDefinition) {
            self.init(
                id: step.id, description: step.description, action: step.call.action, needs: step.needs,
                approvalRequired: step.approvalRequired, irreversible: step.irreversible,
                hasCompensation: step.compensate != nil, hasWaiter: step.wait != nil
            )
        }
    }

    /// The steps in file order.
    public let nodes: [Node]
    let indexByID: [String: Int]
    /// For each node, the indices of the nodes it needs (deduplicated, file order of `needs`).
    let dependencyIndices: [[Int]]
    /// For each node, the indices of the nodes that need it (ascending).
    let dependentIndices: [[Int]]

    /// The graph of `definition`'s steps.
    public init(definition: RunbookDefinition) {
        self.init(nodes: definition.steps.map(Node.init))
    }

    /// The graph of `nodes`, in the given order.
    public init(nodes: [Node]) {
        var kept: [Node] = []
        var indexByID: [String: Int] = [:]
        for node in nodes where indexByID[node.id] == nil {
            indexByID[node.id] = kept.count
            kept.append(node)
        }
        var dependencies = [[Int]](repeating: [], count: kept.count)
        var dependents = [[Int]](repeating: [], count: kept.count)
        for (index, node) in kept.enumerated() {
            var seen = Set<Int>()
            for need in node.needs {
                guard let target = indexByID[need], seen.insert(target).inserted else { continue }
                dependencies[index].append(target)
                dependents[target].append(index)
            }
        }
        self.nodes = kept
        self.indexByID = indexByID
        self.dependencyIndices = dependencies
        self.dependentIndices = dependents
    }

    /// Step ids in file order.
    public var ids: [String] { nodes.map(\.id) }

    /// Steps with no needs, in file order.
    public var roots: [String] {
        nodes.indices.filter { dependencyIndices[$0].isEmpty }.map { nodes[$0].id }
    }

    /// The steps `id` directly needs (empty for an unknown id).
    public func dependencies(of id: String) -> [String] {
        guard let index = indexByID[id] else { return [] }
        return dependencyIndices[index].map { nodes[$0].id }
    }

    /// The steps that directly need `id`, in file order (empty for an unknown id).
    public func dependents(of id: String) -> [String] {
        guard let index = indexByID[id] else { return [] }
        return dependentIndices[index].map { nodes[$0].id }
    }

    /// Every step `id` needs directly or transitively.
    public func ancestors(of id: String) -> Set<String> { reachable(from: id, along: dependencyIndices) }

    /// Every step that needs `id` directly or transitively.
    public func descendants(of id: String) -> Set<String> { reachable(from: id, along: dependentIndices) }

    /// The steps reachable from `id` by following `edges` (by node index), `id` itself excluded unless on a cycle.
    private func reachable(from id: String, along edges: [[Int]]) -> Set<String> {
        guard let start = indexByID[id] else { return [] }
        var visited = Set<Int>()
        var stack = edges[start]
        while let next = stack.popLast() {
            guard visited.insert(next).inserted else { continue }
            stack.append(contentsOf: edges[next])
        }
        return Set(visited.map { nodes[$0].id })
    }

    /// A run order in which every step comes after the steps it needs; among steps that are ready at
    /// the same time, file order wins. Steps on a cycle (and those after them) are left out.
    public var topologicalOrder: [String] { topologicalIndices().map { nodes[$0].id } }

    func topologicalIndices() -> [Int] {
        var remaining = dependencyIndices.map(\.count)
        var ready = MinHeap()
        for index in nodes.indices where remaining[index] == 0 { ready.insert(index) }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let index = ready.popMin() {
            order.append(index)
            for dependent in dependentIndices[index] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }
        return order
    }

    /// Steps not yet started (nor finished) whose needs have all finished, in file order.
    public func readySteps(finished: Set<String>, started: Set<String>) -> [String] {
        nodes.indices.compactMap { index in
            let id = nodes[index].id
            guard !finished.contains(id), !started.contains(id) else { return nil }
            let ready = dependencyIndices[index].allSatisfy { finished.contains(nodes[$0].id) }
            return ready ? id : nil
        }
    }

    /// The first cycle found, as step ids where each needs the next and the last is the first again
    /// (`[a, b, c, a]`), starting from the cycle's earliest step in file order; nil when the graph is a DAG.
    public var cycle: [String]? { cycles.first }

    /// Every distinct cycle the depth-first search meets (one per back edge), each as `cycle` describes.
    public var cycles: [[String]] {
        enum Mark { case unvisited, active, done }
        var marks = [Mark](repeating: .unvisited, count: nodes.count)
        var found: [[Int]] = []
        var seen = Set<[Int]>()
        for start in nodes.indices where marks[start] == .unvisited {
            // Iterative DFS: the path and, for each node on it, the next dependency to look at.
            var path: [Int] = [start]
            var nextEdge: [Int] = [0]
            marks[start] = .active
            while let node = path.last {
                let edges = dependencyIndices[node]
                let position = nextEdge[nextEdge.count - 1]
                guard position < edges.count else {
                    marks[node] = .done
                    path.removeLast()
                    nextEdge.removeLast()
                    continue
                }
                nextEdge[nextEdge.count - 1] += 1
                let target = edges[position]
                switch marks[target] {
                case .unvisited:
                    marks[target] = .active
                    path.append(target)
                    nextEdge.append(0)
                case .active:
                    guard let from = path.lastIndex(of: target) else { continue }
                    var members = Array(path[from...])
                    if let smallest = members.indices.min(by: { members[$0] < members[$1] }) {
                        members = Array(members[smallest...] + members[..<smallest])
                    }
                    if seen.insert(members).inserted { found.append(members) }
                case .done:
                    continue
                }
            }
        }
        return found
            .sorted { ($0.first ?? 0) < ($1.first ?? 0) }
            .map { members in (members + members.prefix(1)).map { nodes[$0].id } }
    }
}

/// Which steps are transitive ancestors of which, as one bitset row per step; built once in topological order.
struct AncestorMatrix {
    private let words: Int
    private var bits: [UInt64]

    /// Only meaningful for an acyclic graph.
    init(_ graph: RunbookGraph) {
        let count = graph.nodes.count
        words = (count + 63) / 64
        bits = [UInt64](repeating: 0, count: words * count)
        for index in graph.topologicalIndices() {
            let row = index * words
            for dependency in graph.dependencyIndices[index] {
                let source = dependency * words
                for word in 0..<words { bits[row + word] |= bits[source + word] }
                bits[row + dependency / 64] |= 1 << UInt64(dependency % 64)
            }
        }
    }

    /// True when the step at `candidate` is needed, directly or transitively, by the step at `step`.
    func isAncestor(_ candidate: Int, of step: Int) -> Bool {
        bits[step * words + candidate / 64] & (1 << UInt64(candidate % 64)) != 0
    }
}

/// A binary min-heap of indices (the ready set of a stable topological sort).
struct MinHeap {
    private var items: [Int] = []

    mutating func insert(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
