extension ActionInputSpec {
    /// The spec name that lets an action accept any input key.
    ///
    /// An action whose `inputs` contain a spec named `*` accepts keys it does not list; the validator
    /// still checks the named specs (required, kind, `literalOnly`) for the keys they name.
    public static let anyInputName = "*"

    /// A spec that makes its action accept any input key (see `anyInputName`).
    public static var anyInput: ActionInputSpec { ActionInputSpec(anyInputName, kind: .any) }
}
