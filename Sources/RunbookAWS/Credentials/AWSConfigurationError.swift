/// A configuration problem (missing credentials, region, unknown profile), with a one-line
/// message that names what to set. Never contains secrets.
public struct AWSConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
