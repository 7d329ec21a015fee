import Testing
@testable import RunbookEngine

@Suite struct TemplateTests {
    let context = TemplateContext(
        params: ["target": "/srv", "force": "true"],
        stepOutputs: ["create": ["id": "snap-1"]],
        ownOutputs: ["path": "/srv/x"],
        runID: "run-42",
        runbook: "restore"
    )

    @Test func parsesLiteralsAndExpressions() throws {
        let template = try Template(parsing: "a ${{params.target}} b ${{ steps.create.outputs.id }}${{ outputs.path }} ${{ run.id }}/${{ run.runbook }}")
        #expect(template.parts == [
            .literal("a "), .expression(.param("target")), .literal(" b "),
            .expression(.stepOutput(step: "create", key: "id")), .expression(.ownOutput("path")),
            .literal(" "), .expression(.runID), .literal("/"), .expression(.runbook),
        ])
    }

    @Test func referencesSkipUnknownAndMalformedExpressions() {
        #expect(Template.references(in: "${{ params.a }} ${{ env.x }} ${{ steps.b.outputs.c }} ${{ params.d") == [
            .param("a"), .stepOutput(step: "b", key: "c"),
        ])
        #expect(Template.references(in: "plain text") == [])
    }

    @Test(arguments: [
        ("${{ params.target }}", "/srv"), ("a$${{params.target}}", "a$/srv"), ("x ${{ run.id }}", "x run-42"),
        ("${ {params.target}}", "${ {params.target}}"), ("$ {{ run.id }}", "$ {{ run.id }}"), ("{{ run.id }}", "{{ run.id }}"),
        ("${", "${"), ("", ""), ("é${{ run.runbook }}", "érestore"),
    ])
    func onlyTheExactOpeningStartsAnExpression(text: String, rendered: String) throws {
        #expect(try Template.render(text, context) == rendered)
    }

    @Test func rendersEveryKindOfReference() throws {
        let rendered = try Template.render("${{ params.target }}/${{ steps.create.outputs.id }}/${{outputs.path}}/${{ run.id }}/${{ run.runbook }}", context)
        #expect(rendered == "/srv/snap-1//srv/x/run-42/restore")
        #expect(try Template.render("no expressions ${ x }", context) == "no expressions ${ x }")
    }

    @Test func missingValuesAreNamed() {
        #expect(throws: TemplateError("steps.create.outputs.arn is not set: step 'create' produced no output 'arn'")) {
            try Template.render("${{ steps.create.outputs.arn }}", context)
        }
        #expect(throws: TemplateError("steps.other.outputs.id is not set: step 'other' has not produced outputs")) {
            try Template.render("${{ steps.other.outputs.id }}", context)
        }
        #expect(throws: TemplateError("params.missing is not set: the run has no parameter 'missing'")) {
            try Template.render("${{ params.missing }}", context)
        }
        #expect(throws: TemplateError("outputs.nope is not set: the step's action produced no output 'nope'")) {
            try Template.render("${{ outputs.nope }}", context)
        }
    }

    @Test func malformedTemplatesFailToParse() {
        #expect(throws: TemplateError("'${{' has no closing '}}'")) { try Template(parsing: "x ${{ params.a") }
        #expect(throws: TemplateError("unknown expression 'params'; use params.NAME, steps.ID.outputs.KEY, outputs.KEY, run.id or run.runbook")) {
            try Template(parsing: "${{ params }}")
        }
    }

    @Test func rendersInputTreesAndCalls() throws {
        let call = ActionCall(action: "shell", inputs: [
            "run": .scalar("ls"),
            "env": .map(["DIR": .scalar("${{ params.target }}")]),
            "args": .list([.scalar("${{ run.id }}"), .scalar("x")]),
        ], location: SourceLocation(file: "f", line: 1, column: 1))
        #expect(try call.renderedInputs(context) == [
            "run": .scalar("ls"),
            "env": .map(["DIR": .scalar("/srv")]),
            "args": .list([.scalar("run-42"), .scalar("x")]),
        ])
        let broken = ActionCall(action: "pass", inputs: ["x": .list([.scalar("${{ params.nope }}")])], location: call.location)
        #expect(throws: TemplateError("input 'x': params.nope is not set: the run has no parameter 'nope'")) {
            try broken.renderedInputs(context)
        }
    }

    @Test(arguments: ["false", "FALSE", "0", "no", "No", "off", "", "  ", " False "])
    func falsyValues(_ text: String) {
        #expect(!Template.isTruthy(text))
    }

    @Test(arguments: ["true", "1", "yes", "on", "x", "00", "2"])
    func truthyValues(_ text: String) {
        #expect(Template.isTruthy(text))
    }
}
