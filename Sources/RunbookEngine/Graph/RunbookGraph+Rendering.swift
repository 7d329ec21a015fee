import Foundation

extension RunbookGraph {
    /// A readable listing: steps in topological order, indented by depth, with needs, action and markers.
    ///
    /// ```
    /// make-dir  (shell)  [approval, wait]
    ///   copy-files  (shell)  [compensate]  needs: make-dir
    /// ```
    public func renderText() -> String {
        var depth = [Int](repeating: 0, count: nodes.count)
        var lines: [String] = []
        var order = topologicalIndices()
        let ordered = Set(order)
        order += nodes.indices.filter { !ordered.contains($0) } // steps on a cycle, at the end
        for index in order {
            let node = nodes[index]
            let level = dependencyIndices[index].map { depth[$0] + 1 }.max() ?? 0
            depth[index] = level
            var line = String(repeating: "  ", count: level) + node.id
            if !node.action.isEmpty { line += "  (\(node.action))" }
            let markers = Self.markers(of: node)
            if !markers.isEmpty { line += "  [\(markers.joined(separator: ", "))]" }
            if !node.needs.isEmpty { line += "  needs: \(node.needs.joined(separator: ", "))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// A Mermaid flowchart (`graph TD`): one node per step, an edge from each step to the steps that need it.
    ///
    /// Node ids are `step_` plus the step id with dashes turned into underscores (step ids never contain
    /// underscores, so this is one-to-one and never a Mermaid keyword); labels are quoted.
    public func renderMermaid() -> String {
        var lines = ["graph TD"]
        for node in nodes {
            var label = node.id
            if !node.action.isEmpty { label += "<br/>" + node.action }
            let markers = Self.markers(of: node)
            if !markers.isEmpty { label += "<br/>" + markers.joined(separator: ", ") }
            lines.append("    \(Self.mermaidID(node.id))[\"\(Self.mermaidEscaped(label))\"]")
        }
        for (index, node) in nodes.enumerated() {
            for dependency in dependencyIndices[index] {
                lines.append("    \(Self.mermaidID(nodes[dependency].id)) --> \(Self.mermaidID(node.id))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Graphviz `digraph`: one box per step, an edge from each step to the steps that need it.
    public func renderDOT(name: String = "runbook") -> String {
        var lines = ["digraph \(Self.dotQuoted(name)) {", "    rankdir=TB;", "    node [shape=box];"]
        for node in nodes {
            var label = node.id
            if !node.action.isEmpty { label += "\n" + node.action }
            let markers = Self.markers(of: node)
            if !markers.isEmpty { label += "\n" + markers.joined(separator: ", ") }
            var attributes = "label=\(Self.dotQuoted(label))"
            if node.irreversible { attributes += ", penwidth=2" }
            if node.approvalRequired { attributes += ", style=dashed" }
            lines.append("    \(Self.dotQuoted(node.id)) [\(attributes)];")
        }
        for (index, node) in nodes.enumerated() {
            for dependency in dependencyIndices[index] {
                lines.append("    \(Self.dotQuoted(nodes[dependency].id)) -> \(Self.dotQuoted(node.id));")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func markers(of node: Node) -> [String] {
        var markers: [String] = []
        if node.approvalRequired { markers.append("approval") }
        if node.irreversible { markers.append("irreversible") }
        if node.hasWaiter { markers.append("wait") }
        if node.hasCompensation { markers.append("compensate") }
        return markers
    }

    static func mermaidID(_ id: String) -> String {
        "step_" + String(id.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func mermaidEscaped(_ label: String) -> String {
        label.replacingOccurrences(of: "\"", with: "#quot;")
    }

    static func dotQuoted(_ text: String) -> String {
        "\"" + TextEscaping.replacing(text, ["\"": "\\\"", "\\": "\\\\", "\n": "\\n"]) + "\""
    }
}
