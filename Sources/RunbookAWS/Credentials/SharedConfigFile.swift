import Foundation

/// A parsed AWS shared INI file (`~/.aws/credentials` or `~/.aws/config`).
///
/// Sections map to profiles: `[name]` in the credentials file, `[profile name]` (or `[default]`)
/// in the config file. Keys are lower-cased; `#` and `;` start comments.
struct SharedConfigFile: Sendable {
    var profiles: [String: [String: String]] = [:]

    init(text: String, isConfigFile: Bool) {
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if isConfigFile, name.hasPrefix("profile ") {
                    name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces)
                } else if isConfigFile, name != "default" {
                    current = nil  // e.g. [sso-session x], [services x]: not a profile
                    continue
                }
                current = name
                if profiles[name] == nil { profiles[name] = [:] }
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") { value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces) }
            profiles[current, default: [:]][key] = value
        }
    }

    static func load(path: String, isConfigFile: Bool) -> SharedConfigFile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return SharedConfigFile(text: String(decoding: data, as: UTF8.self), isConfigFile: isConfigFile)
    }
}
