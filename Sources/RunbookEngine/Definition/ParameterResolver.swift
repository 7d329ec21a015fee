/// Every problem with the parameters given to a run, as plain sentences.
public struct ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One sentence per problem, each naming its parameter.
    public var problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}

/// Turns the parameters given on the command line into a run's parameter values.
public enum ParameterResolver {
    /// Applies defaults, checks that required parameters are present and that values match their types,
    /// and refuses names the runbook does not declare. Reports every problem at once.
    ///
    /// Values are returned as given, except booleans, which are normalised to `true`/`false`.
    /// A parameter that is neither given, required nor defaulted is left out of the result.
    public static func resolve(definition: RunbookDefinition, provided: [String: String]) throws(ParameterError) -> [String: String] {
        var problems: [String] = []
        let declared = Set(definition.parameters.map(\.name))
        for name in provided.keys.sorted() where !declared.contains(name) {
            let known = definition.parameters.map(\.name)
            let hint = Suggestion.closest(to: name, among: known).map { " (did you mean '\($0)'?)" }
                ?? (known.isEmpty ? " (it takes no parameters)" : " (it takes: \(known.joined(separator: ", ")))")
            problems.append("unknown parameter '\(name)': runbook '\(definition.name)' does not declare it\(hint)")
        }
        var resolved: [String: String] = [:]
        for spec in definition.parameters {
            guard let value = provided[spec.name] ?? spec.defaultValue else {
                if spec.required {
                    problems.append("missing required parameter '\(spec.name)' (pass --param \(spec.name)=VALUE)")
                }
                continue
            }
            switch checked(value, as: spec.type) {
            case .success where spec.secret && !value.isEmpty && value.count < Redactor.minimumSecretLength:
                problems.append("secret parameter '\(spec.name)' is too short to be redacted reliably: give at least \(Redactor.minimumSecretLength) characters (the value is not shown)")
            case .success(let normalised): resolved[spec.name] = normalised
            case .failure(let problem):
                let got = spec.secret ? " (the value is not shown: the parameter is secret)" : ", got '\(value)'"
                problems.append("parameter '\(spec.name)' \(problem)\(got)")
            }
        }
        guard problems.isEmpty else { throw ParameterError(problems: problems) }
        return resolved
    }

    /// The environment variable that carries a secret parameter: `db-password` → `RUNBOOK_PARAM_DB_PASSWORD`.
    public static func environmentVariable(for name: String) -> String {
        "RUNBOOK_PARAM_" + String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The value normalised for `type`, or what it must be (`must be an integer`).
    static func checked(_ value: String, as type: ParameterType) -> Result<String, TypeMismatch> {
        let trimmed = value.trimmingWhitespace()
        switch type {
        case .string:
            return .success(value)
        case .int:
            return Int(trimmed) != nil ? .success(trimmed) : .failure(TypeMismatch("must be an integer"))
        case .bool:
            guard !trimmed.isEmpty, let flag = BooleanText.parse(trimmed) else {
                return .failure(TypeMismatch("must be true or false"))
            }
            return .success(flag ? "true" : "false")
        case .duration:
            return DurationText.parse(trimmed) != nil
                ? .success(trimmed)
                : .failure(TypeMismatch("must be a duration such as 500ms, 10s, 5m or 1h"))
        }
    }

    /// What a value must be to match its parameter's type.
    struct TypeMismatch: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
