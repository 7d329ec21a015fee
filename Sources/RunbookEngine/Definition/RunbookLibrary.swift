import Foundation
import Yams

/// One runbook file found in a library directory.
public struct RunbookSummary: Sendable, Equatable {
    /// The file name without `.yaml`/`.yml`.
    public var name: String
    /// The runbook's `description:`, empty when the file could not be read.
    public var description: String
    public var path: String
    /// Why the file does not load (every diagnostic, one per line); nil when it is fine.
    public var error: String?

    public init(name: String, description: String, path: String, error: String? = nil) {
        self.name = name
        self.description = description
        self.path = path
        self.error = error
    }
}

/// Why a runbook could not be found or read.
public struct RunbookLibraryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The runbooks in a directory (`Runbooks/`, `--runbooks DIR` or `RUNBOOK_PATH`).
public struct RunbookLibrary: Sendable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// `RUNBOOK_PATH` (relative paths taken from `cwd`) when set and not empty, else `cwd/Runbooks`.
    public static func defaultDirectory(environment: [String: String], cwd: String) -> String {
        if let path = environment["RUNBOOK_PATH"], !path.isEmpty {
            return path.hasPrefix("/") ? path : cwd + "/" + path
        }
        return cwd + "/Runbooks"
    }

    /// Paths of the `.yaml`/`.yml` files in the directory, sorted by name.
    public func files() throws(RunbookLibraryError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw RunbookLibraryError("cannot read the runbook directory \(directory): it does not exist or is not readable")
        }
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { directory + "/" + $0 }
    }

    /// Every runbook in the directory, with its description; a file that does not load is listed with its error.
    ///
    /// With a `registry` each file is fully validated; without one only the YAML and the top-level keys are read.
    public func list(registry: ActionRegistry? = nil) throws(RunbookLibraryError) -> [RunbookSummary] {
        try files().map { path in
            let name = RunbookParser.expectedName(forFile: path) ?? path
            guard let source = try? String(contentsOfFile: path, encoding: .utf8) else {
                return RunbookSummary(name: name, description: "", path: path, error: "cannot read \(path)")
            }
            if let registry {
                do {
                    let definition = try RunbookParser.parse(source: source, file: path, registry: registry)
                    return RunbookSummary(name: name, description: definition.description, path: path)
                } catch {
                    return RunbookSummary(name: name, description: RunbookParser.peekDescription(source), path: path, error: String(describing: error))
                }
            }
            switch RunbookParser.peek(source: source, file: path) {
            case .success(let description): return RunbookSummary(name: name, description: description, path: path)
            case .failure(let failure): return RunbookSummary(name: name, description: "", path: path, error: failure.description)
            }
        }
    }

    /// Loads and validates a runbook.
    ///
    /// `nameOrPath` containing `/` or ending in `.yaml`/`.yml` is a file path; anything else is a name looked up as
    /// `DIR/NAME.yaml`, then `DIR/NAME.yml`. Throws `RunbookLibraryError` when the file is missing or unreadable
    /// (naming the directory searched and the runbooks in it) and `ValidationFailure` when it does not validate.
    public func load(nameOrPath: String, registry: ActionRegistry) throws -> RunbookDefinition {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml")
        let path: String
        if isPath {
            guard FileManager.default.fileExists(atPath: nameOrPath) else {
                throw RunbookLibraryError("no runbook file at \(nameOrPath)")
            }
            path = nameOrPath
        } else {
            let candidates = [directory + "/" + nameOrPath + ".yaml", directory + "/" + nameOrPath + ".yml"]
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw notFound(nameOrPath)
            }
            path = found
        }
        guard let source = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunbookLibraryError("cannot read \(path) as UTF-8 text")
        }
        return try RunbookParser.parse(source: source, file: path, registry: registry)
    }

    private func notFound(_ name: String) -> RunbookLibraryError {
        guard let paths = try? files() else {
            return RunbookLibraryError("no runbook named '\(name)': the runbook directory \(directory) does not exist (set --runbooks DIR or RUNBOOK_PATH)")
        }
        let names = paths.compactMap { RunbookParser.expectedName(forFile: $0) }
        let available = names.isEmpty ? "it has no runbooks" : "available: \(names.joined(separator: ", "))"
        return RunbookLibraryError("no runbook named '\(name)' in \(directory) (looked for \(name).yaml and \(name).yml); \(available)\(Suggestion.didYouMean(name, among: names))")
    }
}

extension RunbookParser {
    /// Reads only the YAML and `description:`; a YAML error, a document past `YAMLLimits.runbook` or a non-map
    /// document is a failure.
    static func peek(source: String, file: String) -> Result<String, ValidationFailure> {
        do {
            guard let root = try compose(source, file: file, limits: .runbook), case .mapping = root else {
                return .failure(ValidationFailure(diagnostics: [
                    Diagnostic(location: SourceLocation(file: file, line: 1, column: 1), message: "a runbook must be a map with name: and steps:"),
                ]))
            }
            return .success(root["description"]?.string ?? "")
        } catch {
            return .failure(error)
        }
    }

    /// The `description:` when the YAML reads, else the empty string.
    static func peekDescription(_ source: String) -> String {
        (try? peek(source: source, file: "").get()) ?? ""
    }
}
