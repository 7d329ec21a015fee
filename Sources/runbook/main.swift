import RunbookCLI

await RunbookCommand.main(arguments: Array(CommandLine.arguments.dropFirst()))
