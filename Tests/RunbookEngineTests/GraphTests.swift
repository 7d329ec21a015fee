import Testing
@testable import RunbookEngine

@Suite struct GraphTests {
    /// top -> (left, right) -> bottom, plus an unrelated root declared last.
    let diamond = RunbookGraph(nodes: [
        .init(id: "top", action: "pass"),
        .init(id: "right", action: "shell", needs: ["top"], hasCompensation: true),
        .init(id: "left", action: "pass", needs: ["top"], approvalRequired: true),
        .init(id: "bottom", action: "pass", needs: ["left", "right"], irreversible: true, hasWaiter: true),
        .init(id: "alone", action: "pass"),
    ])

    @Test func structure() {
        #expect(diamond.roots == ["top", "alone"])
        #expect(diamond.dependencies(of: "bottom") == ["left", "right"])
        #expect(diamond.dependents(of: "top") == ["right", "left"])
        #expect(diamond.ancestors(of: "bottom") == ["top", "left", "right"])
        #expect(diamond.ancestors(of: "top") == [])
        #expect(diamond.descendants(of: "top") == ["left", "right", "bottom"])
        #expect(diamond.cycle == nil)
    }

    @Test func topologicalOrderKeepsFileOrderAmongReadySteps() {
        #expect(diamond.topologicalOrder == ["top", "right", "left", "bottom", "alone"])
    }

    @Test func readySteps() {
        #expect(diamond.readySteps(finished: [], started: []) == ["top", "alone"])
        #expect(diamond.readySteps(finished: [], started: ["top"]) == ["alone"])
        #expect(diamond.readySteps(finished: ["top"], started: ["top"]) == ["right", "left", "alone"])
        #expect(diamond.readySteps(finished: ["top", "left"], started: ["top", "left", "alone"]) == ["right"])
        #expect(diamond.readySteps(finished: ["top", "left", "right", "alone"], started: ["top", "left", "right", "alone"]) == ["bottom"])
    }

    @Test func cyclesAreFoundAndStartAtTheEarliestStep() {
        let graph = RunbookGraph(nodes: [
            .init(id: "a", needs: ["c"]), .init(id: "b", needs: ["a"]), .init(id: "c", needs: ["b"]),
            .init(id: "d", needs: ["d"]), .init(id: "e"),
        ])
        #expect(graph.cycles == [["a", "c", "b", "a"], ["d", "d"]])
        #expect(graph.topologicalOrder == ["e"])
    }

    @Test func ancestorMatrixMatchesAncestors() {
        let matrix = AncestorMatrix(diamond)
        for (stepIndex, step) in diamond.nodes.enumerated() {
            let expected = diamond.ancestors(of: step.id)
            for (candidateIndex, candidate) in diamond.nodes.enumerated() {
                #expect(matrix.isAncestor(candidateIndex, of: stepIndex) == expected.contains(candidate.id))
            }
        }
    }

    @Test func mermaidHasEveryNodeAndEdge() {
        let lines = diamond.renderMermaid().split(separator: "\n").map(String.init)
        #expect(lines.first == "graph TD")
        #expect(lines.contains("    step_top[\"top<br/>pass\"]"))
        #expect(lines.contains("    step_bottom[\"bottom<br/>pass<br/>irreversible, wait\"]"))
        let edges = lines.filter { $0.contains("-->") }
        #expect(Set(edges) == [
            "    step_top --> step_right", "    step_top --> step_left",
            "    step_left --> step_bottom", "    step_right --> step_bottom",
        ])
        #expect(edges.count == 4)
        #expect(RunbookGraph(nodes: [.init(id: "make-dir"), .init(id: "end", needs: ["make-dir"])]).renderMermaid()
            .contains("    step_make_dir --> step_end"))
    }

    @Test func dotHasEveryNodeAndEdge() {
        let dot = diamond.renderDOT(name: "diamond")
        let lines = dot.split(separator: "\n").map(String.init)
        #expect(lines.first == "digraph \"diamond\" {")
        #expect(lines.last == "}")
        #expect(lines.contains("    \"left\" [label=\"left\\npass\\napproval\", style=dashed];"))
        let edges = lines.filter { $0.contains("->") }
        #expect(Set(edges) == [
            "    \"top\" -> \"right\";", "    \"top\" -> \"left\";",
            "    \"left\" -> \"bottom\";", "    \"right\" -> \"bottom\";",
        ])
        #expect(edges.count == 4)
    }

    @Test func textListsStepsIndentedByDepthWithMarkers() {
        #expect(diamond.renderText() == """
        top  (pass)
          right  (shell)  [compensate]  needs: top
          left  (pass)  [approval]  needs: top
            bottom  (pass)  [irreversible, wait]  needs: left, right
        alone  (pass)

        """)
    }
}
