import Foundation

/// The JSON text every store keeps in its columns (parameters, options, outputs, details, actors): compact,
/// keys sorted, so that the same record is the same text in every store.
public enum StoreJSON {
    /// A string map as compact JSON with sorted keys, written by hand: JSONEncoder costs more than the
    /// fsync on the hot path (several maps per step transition).
    public static func encode(_ map: [String: String]) -> String {
        if map.isEmpty { return "{}" }
        var out = "{"
        var first = true
        for key in map.keys.sorted() {
            if !first { out += "," }
            first = false
            out += AuditChain.jsonString(key)
            out += ":"
            out += AuditChain.jsonString(map[key] ?? "")
        }
        return out + "}"
    }

    public static func encode(_ actor: ActorIdentity) -> String {
        "{\"host\":\(AuditChain.jsonString(actor.host)),\"pid\":\(actor.pid),\"user\":\(AuditChain.jsonString(actor.user))}"
    }

    /// Encodes a run of events' actors, each distinct one once in a row: one engine writes a checkpoint's
    /// events under one actor.
    public struct ActorEncoder {
        private var last: (ActorIdentity, String)?

        public init() {}

        public mutating func encode(_ actor: ActorIdentity) -> String {
            if let last, last.0 == actor { return last.1 }
            let text = StoreJSON.encode(actor)
            last = (actor, text)
            return text
        }
    }

    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// A string map (outputs, details): JSONSerialization is several times faster than JSONDecoder here,
    /// which matters when a resume reads thousands of rows.
    public static func decodeMap(_ text: String) -> [String: String] {
        if text == "{}" { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        var map: [String: String] = [:]
        map.reserveCapacity(object.count)
        for (key, value) in object { map[key] = value as? String ?? "\(value)" }
        return map
    }
}
