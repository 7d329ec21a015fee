import Foundation

/// A value that a `${{ … }}` expression names.
public enum TemplateReference: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// `params.NAME`
    case param(String)
    /// `steps.ID.outputs.KEY` (only for a step the referring step transitively needs).
    case stepOutput(step: String, key: String)
    /// `outputs.KEY`: an output of the step's own action (waiter and compensation inputs only).
    case ownOutput(String)
    /// `run.id`
    case runID
    /// `run.runbook`
    case runbook

    /// Reads the text between `${{` and `}}` (surrounding whitespace allowed); nil when it names nothing known.
    public init?(expression: String) {
        let text = expression.trimmingWhitespace()
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy(TemplateReference.isName) else { return nil }
        switch (parts.first, parts.count) {
        case ("params", 2): self = .param(parts[1])
        case ("steps", 4) where parts[2] == "outputs": self = .stepOutput(step: parts[1], key: parts[3])
        case ("outputs", 2): self = .ownOutput(parts[1])
        case ("run", 2) where parts[1] == "id": self = .runID
        case ("run", 2) where parts[1] == "runbook": self = .runbook
        default: return nil
        }
    }

    /// The expression as written without `${{ }}`, e.g. `steps.create.outputs.id`.
    public var description: String {
        switch self {
        case .param(let name): "params.\(name)"
        case .stepOutput(let step, let key): "steps.\(step).outputs.\(key)"
        case .ownOutput(let key): "outputs.\(key)"
        case .runID: "run.id"
        case .runbook: "run.runbook"
        }
    }

    private static func isName(_ part: String) -> Bool {
        !part.isEmpty && part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
    }
}

/// The values a template may read while rendering.
public struct TemplateContext: Sendable, Equatable {
    /// Resolved run parameters by name.
    public var params: [String: String]
    /// Outputs of finished steps, by step id then output key.
    public var stepOutputs: [String: [String: String]]
    /// Outputs of the step's own action (for waiter and compensation inputs).
    public var ownOutputs: [String: String]
    public var runID: String
    public var runbook: String

    public init(
        params: [String: String] = [:], stepOutputs: [String: [String: String]] = [:],
        ownOutputs: [String: String] = [:], runID: String = "", runbook: String = ""
    ) {
        self.params = params
        self.stepOutputs = stepOutputs
        self.ownOutputs = ownOutputs
        self.runID = runID
        self.runbook = runbook
    }

    /// The value `reference` names, or an error saying why it is not set.
    public func value(of reference: TemplateReference) throws(TemplateError) -> String {
        switch reference {
        case .param(let name):
            guard let value = params[name] else {
                throw TemplateError("\(reference) is not set: the run has no parameter '\(name)'")
            }
            return value
        case .stepOutput(let step, let key):
            guard let outputs = stepOutputs[step] else {
                throw TemplateError("\(reference) is not set: step '\(step)' has not produced outputs")
            }
            guard let value = outputs[key] else {
                throw TemplateError("\(reference) is not set: step '\(step)' produced no output '\(key)'")
            }
            return value
        case .ownOutput(let key):
            guard let value = ownOutputs[key] else {
                throw TemplateError("\(reference) is not set: the step's action produced no output '\(key)'")
            }
            return value
        case .runID: return runID
        case .runbook: return runbook
        }
    }
}

/// Why a template could not be parsed or rendered.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A string with `${{ … }}` expressions: literal text outside them, references inside.
public struct Template: Sendable, Equatable {
    /// One piece of a template.
    public enum Part: Sendable, Equatable {
        case literal(String)
        case expression(TemplateReference)
    }

    public var parts: [Part]

    /// Parses `text`; fails on an unterminated `${{` or an expression that names nothing known.
    public init(parsing text: String) throws(TemplateError) {
        var parts: [Part] = []
        for segment in TemplateScanner.segments(of: text) {
            switch segment {
            case .literal(let literal): parts.append(.literal(literal))
            case .expression(let raw):
                guard let reference = TemplateReference(expression: raw) else {
                    throw TemplateError(TemplateScanner.unknownExpressionMessage(raw))
                }
                parts.append(.expression(reference))
            case .unterminated:
                throw TemplateError(TemplateScanner.unterminatedMessage)
            }
        }
        self.parts = parts
    }

    /// The references in `text`, in order; malformed or unknown expressions are left out.
    public static func references(in text: String) -> [TemplateReference] {
        TemplateScanner.segments(of: text).compactMap {
            if case .expression(let raw) = $0 { return TemplateReference(expression: raw) }
            return nil
        }
    }

    /// True when `text` contains `${{`: a plain scan of the UTF-8 bytes (Foundation's `contains` goes through
    /// NSString, and the generic `firstRange(of:)` is not specialised; this runs for every input of every step).
    public static func containsExpression(_ text: String) -> Bool {
        var last: UInt8 = 0, beforeLast: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "{") && last == UInt8(ascii: "{") && beforeLast == UInt8(ascii: "$") { return true }
            (beforeLast, last) = (last, byte)
        }
        return false
    }

    /// The text with every expression replaced by its value.
    public func render(_ context: TemplateContext) throws(TemplateError) -> String {
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text): result += text
            case .expression(let reference): result += try context.value(of: reference)
            }
        }
        return result
    }

    /// Parses and renders `text` in one go.
    public static func render(_ text: String, _ context: TemplateContext) throws(TemplateError) -> String {
        guard containsExpression(text) else { return text }
        return try Template(parsing: text).render(context)
    }

    /// False for `false`, `0`, `no`, `off` and the empty string (case-insensitive, whitespace ignored); true otherwise.
    /// Used for `when:`.
    public static func isTruthy(_ rendered: String) -> Bool {
        switch rendered.trimmingWhitespace().lowercased() {
        case "", "false", "0", "no", "off": false
        default: true
        }
    }
}

extension InputValue {
    /// This value with every scalar rendered (map keys are not templated).
    public func rendered(_ context: TemplateContext) throws(TemplateError) -> InputValue {
        switch self {
        case .scalar(let text): return .scalar(try Template.render(text, context))
        case .list(let items):
            var rendered: [InputValue] = []
            rendered.reserveCapacity(items.count)
            for item in items { rendered.append(try item.rendered(context)) }
            return .list(rendered)
        case .map(let map):
            var rendered: [String: InputValue] = [:]
            for (key, item) in map { rendered[key] = try item.rendered(context) }
            return .map(rendered)
        }
    }
}

extension ActionCall {
    /// The call's inputs with every template rendered.
    public func renderedInputs(_ context: TemplateContext) throws(TemplateError) -> [String: InputValue] {
        var rendered: [String: InputValue] = [:]
        for (key, value) in inputs {
            do {
                rendered[key] = try value.rendered(context)
            } catch {
                throw TemplateError("input '\(key)': \(error.message)")
            }
        }
        return rendered
    }
}

/// Splits template text into literal text and raw expressions.
enum TemplateScanner {
    enum Segment: Equatable {
        case literal(String)
        /// The text between `${{` and `}}`, untrimmed.
        case expression(String)
        /// A `${{` with no closing `}}`; the rest of the text.
        case unterminated
    }

    static let unterminatedMessage = "'${{' has no closing '}}'"

    static func unknownExpressionMessage(_ raw: String) -> String {
        "unknown expression '\(raw.trimmingWhitespace())'; use params.NAME, steps.ID.outputs.KEY, outputs.KEY, run.id or run.runbook"
    }

    static func segments(of text: String) -> [Segment] {
        var segments: [Segment] = []
        var rest = text[...]
        while let open = rest.range(of: "${{") {
            if open.lowerBound > rest.startIndex { segments.append(.literal(String(rest[..<open.lowerBound]))) }
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                segments.append(.unterminated)
                return segments
            }
            segments.append(.expression(String(afterOpen[..<close.lowerBound])))
            rest = afterOpen[close.upperBound...]
        }
        if !rest.isEmpty { segments.append(.literal(String(rest))) }
        return segments
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
