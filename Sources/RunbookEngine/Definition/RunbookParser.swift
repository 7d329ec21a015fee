import Crypto
import Foundation
import Yams

/// Parses runbook YAML into a validated `RunbookDefinition`.
public enum RunbookParser {
    /// Parses and validates `source`, reporting every problem at once.
    ///
    /// - Parameters:
    ///   - source: the YAML text.
    ///   - file: the path it came from; used in diagnostics and as the definition's `origin`. When it ends in
    ///     `.yaml` or `.yml`, the runbook's `name:` must equal the file name without that extension.
    ///   - registry: the actions steps may use, and the inputs each accepts.
    ///   - trusted: for a definition stored with a run (validated when the run started, and identified by its
    ///     hash): build the model but skip the template and graph checks, which only find errors. Resume then
    ///     costs one YAML parse, and a newer `runbook` with stricter checks still resumes an old run.
    /// - Throws: `ValidationFailure` with every diagnostic, sorted by position.
    public static func parse(source: String, file: String, registry: ActionRegistry, trusted: Bool = false) throws(ValidationFailure) -> RunbookDefinition {
        var validator = RunbookValidator(file: file, registry: registry)
        validator.trusted = trusted
        guard let root = try compose(source, file: file, limits: .runbook) else {
            throw ValidationFailure(diagnostics: [
                Diagnostic(location: SourceLocation(file: file, line: 1, column: 1), message: "the file is empty; a runbook needs name: and steps:"),
            ])
        }
        let body = validator.runbook(root)
        guard validator.diagnostics.isEmpty, let body else {
            throw ValidationFailure(diagnostics: validator.diagnostics)
        }
        return RunbookDefinition(
            name: body.name, description: body.description, parameters: body.parameters, defaults: body.defaults,
            steps: body.steps, objectives: body.objectives, source: source, sourceHash: sourceHash(of: source), origin: file
        )
    }

    /// Parses a definition stored with a run, once per process: it was validated when the run started and its
    /// hash names its exact text, so it is parsed `trusted` (the model without the checks that only find
    /// errors) and kept by hash. Every path that resumes a run (the CLI, the tests, the benchmarks) uses this.
    public static func parseStored(_ source: String, origin: String, registry: ActionRegistry) throws(ValidationFailure) -> RunbookDefinition {
        let hash = sourceHash(of: source)
        if let cached = StoredDefinitionCache.shared[hash] { return cached }
        let definition = try parse(source: source, file: origin, registry: registry, trusted: true)
        StoredDefinitionCache.shared[hash] = definition
        return definition
    }

    /// The YAML tree of `source` (nil for an empty document), after checking on the event stream that it stays
    /// within `limits`: a document past them is refused before anything composes or walks its tree.
    /// - Throws: `ValidationFailure` with the one diagnostic: the bound crossed, or the YAML syntax error.
    public static func compose(_ source: String, file: String, limits: YAMLLimits) throws(ValidationFailure) -> Node? {
        if let excess = limits.firstExcess(in: source, file: file) {
            throw ValidationFailure(diagnostics: [excess])
        }
        do {
            return try Yams.compose(yaml: source)
        } catch {
            throw ValidationFailure(diagnostics: [syntaxDiagnostic(error, source: source, file: file)])
        }
    }

    /// Lower-case hex SHA-256 of `source`'s UTF-8 bytes.
    public static func sourceHash(of source: String) -> String {
        AuditChain.sha256Hex(source)
    }

    /// The runbook name a file path implies: its last component without `.yaml`/`.yml`; nil for other paths.
    public static func expectedName(forFile file: String) -> String? {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        for suffix in [".yaml", ".yml"] where base.hasSuffix(suffix) {
            return String(base.dropLast(suffix.count))
        }
        return nil
    }

    /// A YAML syntax error as a diagnostic at Yams' line and column.
    static func syntaxDiagnostic(_ error: any Error, source: String, file: String) -> Diagnostic {
        func at(_ line: Int, _ column: Int, _ message: String) -> Diagnostic {
            Diagnostic(location: SourceLocation(file: file, line: line, column: column), message: message)
        }
        guard let yamlError = error as? YamlError else { return at(1, 1, "invalid YAML: \(error)") }
        switch yamlError {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return at(mark.line, mark.column, "invalid YAML: \(problem)\(detail)")
        case let .reader(problem, offset, _, _):
            let prefix = source.utf8.prefix(offset ?? 0)
            let line = prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            let column = prefix.reversed().prefix { $0 != UInt8(ascii: "\n") }.count + 1
            return at(line, column, "invalid YAML: \(problem)")
        default:
            return at(1, 1, "invalid YAML: \(yamlError)")
        }
    }
}

/// Parsed stored definitions by source hash (a definition's hash names its exact text).
final class StoredDefinitionCache: @unchecked Sendable {
    static let shared = StoredDefinitionCache()
    private let lock = NSLock()
    private var byHash: [String: RunbookDefinition] = [:]

    subscript(hash: String) -> RunbookDefinition? {
        get { lock.withLock { byHash[hash] } }
        set { lock.withLock { byHash[hash] = newValue } }
    }
}
