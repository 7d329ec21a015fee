import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: name (namespace prefix dropped), text and child elements.
public struct XMLNode: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [XMLNode]

    public init(name: String, text: String = "", children: [XMLNode] = []) {
        self.name = name
        self.text = text
        self.children = children
    }

    /// Parses a document; returns `nil` if the data is not well-formed XML.
    public static func parse(_ data: Data) -> XMLNode? {
        guard !data.isEmpty else { return nil }
        let parser = XMLParser(data: data)
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    /// The first child with this name.
    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    /// All children with this name.
    public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// Follows a `/`-separated path of child names.
    public func node(_ path: String) -> XMLNode? {
        var current: XMLNode? = self
        for part in path.split(separator: "/") { current = current?.child(String(part)) }
        return current
    }

    /// The text at a path, or `nil` if the element is absent.
    public func string(_ path: String) -> String? { node(path)?.text }

    /// An integer at a path.
    public func int(_ path: String) -> Int? { string(path).flatMap { Int($0) } }

    /// A double at a path.
    public func double(_ path: String) -> Double? { string(path).flatMap { Double($0) } }

    /// A boolean (`true`/`false`) at a path.
    public func bool(_ path: String) -> Bool? {
        switch string(path)?.lowercased() {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// A timestamp (ISO 8601, with or without fractional seconds) at a path.
    public func date(_ path: String) -> Date? { string(path).flatMap(XMLNode.parseTimestamp) }

    /// The items of a wrapped list: children of the element at `path` (any item element name,
    /// e.g. `member`, `item`, `DBInstance`). Empty when the list element is absent.
    public func list(_ path: String) -> [XMLNode] { node(path)?.children ?? [] }

    /// Depth-first search for the first element with this name (self included).
    public func first(named name: String) -> XMLNode? {
        if self.name == name { return self }
        for c in children { if let hit = c.first(named: name) { return hit } }
        return nil
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = withFraction.date(from: text) { return d }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: text) { return d }
        // Timestamps without a zone ("2024-01-01T00:00:00.123456") are UTC.
        if !text.hasSuffix("Z"), !text.contains("+") { return parseTimestamp(text + "Z") }
        return nil
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [XMLNode] = []
    var root: XMLNode?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        stack.append(XMLNode(name: local))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard var node = stack.popLast() else { return }
        if !node.children.isEmpty { node.text = node.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
    }
}

/// Builds XML request bodies (REST-XML) with escaping.
public struct XMLWriter: Sendable {
    private(set) var output = ""

    public init(root: String, namespace: String?, _ body: (inout XMLWriter) -> Void) {
        output = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        output += namespace.map { "<\(root) xmlns=\"\($0)\">" } ?? "<\(root)>"
        body(&self)
        output += "</\(root)>"
    }

    /// An element with text content; skipped when `value` is nil.
    public mutating func element(_ name: String, _ value: String?) {
        guard let value else { return }
        output += "<\(name)>\(XMLWriter.escape(value))</\(name)>"
    }

    /// An element containing other elements.
    public mutating func element(_ name: String, _ body: (inout XMLWriter) -> Void) {
        output += "<\(name)>"
        body(&self)
        output += "</\(name)>"
    }

    public var data: Data { Data(output.utf8) }

    /// `s` with XML's five special characters written as entities.
    public static func escape(_ s: String) -> String {
        s.reduce(into: "") { out, ch in out += entities[ch] ?? String(ch) }
    }

    private static let entities: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;"]
}
