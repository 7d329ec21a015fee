// TEMPORARY: replaced by the definition layer's Template on merge.
struct BridgeContext: Sendable {
    var params: [String: String]
    var stepOutputs: [String: [String: String]]
    var ownOutputs: [String: String]
    var runID: String
    var runbook: String
}

enum Bridge {
    static func render(_ text: String, _ context: BridgeContext) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw ActionFailure("unterminated template", retryable: false) }
            let expr = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let parts = expr.split(separator: ".").map(String.init)
            switch parts.first {
            case "params": out += context.params[parts[1]] ?? ""
            case "steps": out += context.stepOutputs[parts[1]]?[parts[3]] ?? ""
            case "outputs": out += context.ownOutputs[parts[1]] ?? ""
            case "run": out += parts[1] == "id" ? context.runID : context.runbook
            default: throw ActionFailure("bad expr", retryable: false)
            }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    static func render(_ value: InputValue, _ context: BridgeContext) throws -> InputValue {
        switch value {
        case .scalar(let s): return .scalar(try render(s, context))
        case .list(let l): return .list(try l.map { try render($0, context) })
        case .map(let m): return .map(try m.mapValues { try render($0, context) })
        }
    }

    static func renderInputs(_ inputs: [String: InputValue], _ context: BridgeContext) throws -> [String: InputValue] {
        try inputs.mapValues { try render($0, context) }
    }

    static func isTruthy(_ s: String) -> Bool {
        !["false", "0", "no", "off", ""].contains(s.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
import Foundation
