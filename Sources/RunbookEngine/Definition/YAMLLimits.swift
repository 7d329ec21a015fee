import CYaml

/// Bounds on the shape of a YAML document, checked on libyaml's event stream before Yams composes a tree.
///
/// Yams shares an anchored node with each of its aliases, but everything that walks the tree afterwards (the
/// validator, templating, storage) meets every alias's whole subtree: a few hundred bytes of aliases of aliases
/// stand for billions of values. Walking the tree is recursive too, so deep nesting overflows the stack. The
/// check reads the events once, keeps only each anchor's size, and stops at the first value past a bound, so
/// it costs time linear in the text and memory linear in the nesting depth and the number of anchors.
public struct YAMLLimits: Sendable, Equatable {
    /// How many values (scalars, lists and maps) the document may hold once every alias is replaced by what it names.
    public var maxValues: Int
    /// How many lists and maps may be nested inside one another, the root counting as one.
    public var maxDepth: Int
    /// What the document is, for messages: `a runbook`.
    public var subject: String

    /// A runbook file (or a definition stored with a run).
    public static let runbook = YAMLLimits(maxValues: 1_000_000, maxDepth: 64, subject: "a runbook")
    /// A `--param-file`.
    public static let parameterFile = YAMLLimits(maxValues: 1_000_000, maxDepth: 64, subject: "a parameter file")

    /// The first place `text` goes past a bound, as a diagnostic in `file`; nil when it stays within them, and
    /// also when libyaml finds a syntax error first (composing the text then reports that error).
    public func firstExcess(in text: String, file: String) -> Diagnostic? {
        let excess = text.utf8.withContiguousStorageIfAvailable(firstExcess(in:))
            ?? Array(text.utf8).withUnsafeBufferPointer(firstExcess(in:))
        return excess.map { Diagnostic(location: SourceLocation(file: file, line: $0.line, column: $0.column), message: message(for: $0.kind)) }
    }

    /// Where and how a document first goes past a bound.
    struct Excess: Equatable {
        enum Kind: Equatable {
            /// Too many values; `alias` names the alias whose expansion crossed the bound.
            case values(alias: String?)
            /// Too deep; `alias` names the alias whose subtree reaches past the bound.
            case depth(alias: String?)
        }
        var kind: Kind
        var line: Int
        var column: Int
    }

    func message(for kind: Excess.Kind) -> String {
        let values = Self.grouped(maxValues)
        switch kind {
        case .values(alias: let name?):
            return "alias *\(name) makes the document expand to more than \(values) values; \(subject) may hold at most \(values) (aliases of aliases multiply: write the values out instead)"
        case .values(alias: nil):
            return "the document holds more than \(values) values; \(subject) may hold at most \(values)"
        case .depth(alias: let name?):
            return "alias *\(name) nests lists and maps more than \(maxDepth) deep here; \(subject) may nest at most \(maxDepth) levels"
        case .depth(alias: nil):
            return "lists and maps are nested more than \(maxDepth) deep here; \(subject) may nest at most \(maxDepth) levels"
        }
    }

    /// `1000000` as `1,000,000`.
    static func grouped(_ number: Int) -> String {
        var digits = String(number)
        var position = digits.count - 3
        while position > 0 {
            digits.insert(",", at: digits.index(digits.startIndex, offsetBy: position))
            position -= 3
        }
        return digits
    }

    /// Parses UTF-8 `bytes` event by event, tallying values and depth with aliases expanded.
    func firstExcess(in bytes: UnsafeBufferPointer<UInt8>) -> Excess? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, base, bytes.count)
        var tally = ExpansionTally(limits: self)
        var event = yaml_event_t()
        while yaml_parser_parse(&parser, &event) == 1 {
            defer { yaml_event_delete(&event) }
            if event.type == YAML_STREAM_END_EVENT { return nil }
            if let excess = tally.record(event) { return excess }
        }
        return nil
    }
}

/// The running count of a document's values and the collections open around the current event.
struct ExpansionTally {
    /// What an anchor stands for: its values, and how many levels of lists and maps it holds (0 for a scalar).
    struct Size {
        var values: Int
        var height: Int
    }

    /// A list or map whose end has not been seen yet.
    struct OpenCollection {
        var anchor: String?
        var valuesBefore: Int
        var tallestChild: Int
    }

    let limits: YAMLLimits
    var values = 0
    var open: [OpenCollection] = []
    var anchors: [String: Size] = [:]

    init(limits: YAMLLimits) {
        self.limits = limits
    }

    mutating func record(_ event: yaml_event_t) -> YAMLLimits.Excess? {
        let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
        func excess(_ kind: YAMLLimits.Excess.Kind) -> YAMLLimits.Excess { .init(kind: kind, line: line, column: column) }
        switch event.type {
        case YAML_SCALAR_EVENT:
            values += 1
            if let anchor = Self.name(event.data.scalar.anchor) { anchors[anchor] = Size(values: 1, height: 0) }
            noteChild(height: 0)
            return values > limits.maxValues ? excess(.values(alias: nil)) : nil
        case YAML_ALIAS_EVENT:
            let name = Self.name(event.data.alias.anchor) ?? ""
            // An unknown alias is Yams' error to report; count it as one value meanwhile.
            let size = anchors[name] ?? Size(values: 1, height: 0)
            values += size.values
            noteChild(height: size.height)
            if values > limits.maxValues { return excess(.values(alias: name)) }
            return open.count + size.height > limits.maxDepth ? excess(.depth(alias: name)) : nil
        case YAML_SEQUENCE_START_EVENT:
            return start(anchor: Self.name(event.data.sequence_start.anchor)).map(excess)
        case YAML_MAPPING_START_EVENT:
            return start(anchor: Self.name(event.data.mapping_start.anchor)).map(excess)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            end()
            return nil
        default:
            return nil
        }
    }

    /// A list or map begins: one more value, one level deeper.
    mutating func start(anchor: String?) -> YAMLLimits.Excess.Kind? {
        values += 1
        if values > limits.maxValues { return .values(alias: nil) }
        if open.count + 1 > limits.maxDepth { return .depth(alias: nil) }
        open.append(OpenCollection(anchor: anchor, valuesBefore: values - 1, tallestChild: 0))
        return nil
    }

    /// A list or map ends: its anchor, if any, now stands for everything counted since it began.
    mutating func end() {
        guard let closed = open.popLast() else { return }
        let height = closed.tallestChild + 1
        if let anchor = closed.anchor { anchors[anchor] = Size(values: values - closed.valuesBefore, height: height) }
        noteChild(height: height)
    }

    mutating func noteChild(height: Int) {
        guard !open.isEmpty else { return }
        open[open.count - 1].tallestChild = max(open[open.count - 1].tallestChild, height)
    }

    static func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
