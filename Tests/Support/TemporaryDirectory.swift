import Foundation

/// A uniquely named directory under the system temporary directory.
///
/// ```swift
/// let dir = try TemporaryDirectory()
/// defer { dir.remove() }
/// let file = dir.url.appendingPathComponent("runbook.sqlite")
/// ```
public struct TemporaryDirectory: Sendable {
    /// The directory's URL.
    public let url: URL
    /// The directory's path.
    public var path: String { url.path }

    /// Creates the directory; `prefix` helps tell test leftovers apart.
    public init(prefix: String = "runbook-test") throws {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes a file (creating parent directories) and returns its URL.
    @discardableResult
    public func write(_ relativePath: String, _ contents: String) throws -> URL {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: file)
        return file
    }

    /// Removes the directory and everything in it (errors ignored).
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
