import Foundation
import RunbookBenchmarks

// `swift run -c release runbook-bench [--repetitions N] [--quick] [--json-only] [--dir PATH] [--only CASES]`
exit(await BenchmarkRunner.main(CommandLine.arguments))
