/// A PostgreSQL write-ahead-log position (`pg_lsn`), e.g. `16/B374D848`: the upper and lower 32 bits in hex.
///
/// Byte distances between positions are how the data plane measures what a standby has not replayed.
public struct WALPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The position as a 64-bit byte offset in the WAL stream.
    public let offset: UInt64

    public init(offset: UInt64) { self.offset = offset }

    /// Parses PostgreSQL's text form `HI/LO`; nil when the text is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...8).contains(parts[0].count), (1...8).contains(parts[1].count),
              let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16) else { return nil }
        offset = high << 32 | low
    }

    /// PostgreSQL's text form (upper-case hex, no padding), as `pg_lsn` prints it.
    public var description: String {
        String(offset >> 32, radix: 16, uppercase: true) + "/" + String(offset & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Bytes from `other` to `self`, as `pg_wal_lsn_diff(self, other)`; 0 when `other` is ahead.
    public func bytesAhead(of other: WALPosition) -> UInt64 {
        offset > other.offset ? offset - other.offset : 0
    }

    public static func < (lhs: WALPosition, rhs: WALPosition) -> Bool { lhs.offset < rhs.offset }
}
