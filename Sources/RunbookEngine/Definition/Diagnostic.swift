/// One problem found in a runbook file, at a position.
public struct Diagnostic: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    /// A plain sentence, e.g. `step 'make-dir': unknown key 'retires' (did you mean 'retry'?)`.
    public var message: String

    /// `FILE:LINE:COL: MESSAGE`.
    public var description: String { "\(location): \(message)" }
}

/// Every problem found while parsing and validating a runbook, sorted by position.
public struct ValidationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    /// Sorts `diagnostics` by line then column, keeping the order of those at the same position.
    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics.enumerated().sorted { lhs, rhs in
            let (l, r) = (lhs.element.location, rhs.element.location)
            if l.line != r.line { return l.line < r.line }
            if l.column != r.column { return l.column < r.column }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
