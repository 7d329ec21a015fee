import Foundation

/// Command-line options of `runbook-bench`.
public struct BenchmarkOptions: Sendable, Equatable {
    public var repetitions = 5
    public var quick = false
    public var jsonOnly = false
    /// Where the databases go; nil = a new directory under the system temp dir.
    public var directory: String?
    /// Only these cases (the floor always runs: every figure is a ratio to it).
    public var only: Set<String>?
    /// The executable to run as `EXE validate-only FILE` for the validate case; nil = validate in-process.
    public var validateExecutable: String?
    /// The `runbook` binary the process case runs; nil = the case is skipped.
    public var runbookExecutable: String?
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`) to measure the engine and the floor on, in a
    /// throwaway database of its own; nil = SQLite files in `directory`.
    public var database: String?
    /// Where the PostgreSQL password comes from (`PGPASSWORD`, `PGPASSFILE`), for this process and the process case's.
    public var environment = ProcessInfo.processInfo.environment

    public static let caseNames = ["floor", "chain", "process", "fanout", "polls", "resume", "validate"]

    public init() {}

    public static let usage = """
    usage: runbook-bench [--repetitions N] [--quick] [--json-only] [--dir PATH] [--only CASE,CASE...] [--runbook PATH]
                         [--db postgres://USER@HOST:PORT/DB]
           runbook-bench validate-only FILE
    cases: \(caseNames.joined(separator: ", "))
    """

    public static func parse(_ arguments: [String]) throws -> BenchmarkOptions {
        var options = BenchmarkOptions()
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw BenchmarkFailure("\(flag) needs a value\n\(usage)") }
            return arguments[i]
        }
        while i < arguments.count {
            let arg = arguments[i]
            switch arg {
            case "--repetitions", "-n":
                guard let n = Int(try value(arg)), n >= 1 else { throw BenchmarkFailure("--repetitions needs a positive integer") }
                options.repetitions = n
            case "--quick": options.quick = true
            case "--json-only": options.jsonOnly = true
            case "--dir": options.directory = try value(arg)
            case "--runbook": options.runbookExecutable = try value(arg)
            case "--db":
                let url = try value(arg)
                guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                    throw BenchmarkFailure("--db takes a PostgreSQL URL (postgres://USER@HOST:PORT/DB); SQLite is the default, in --dir")
                }
                options.database = url
            case "--only":
                let names = Set(try value(arg).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                if let bad = names.first(where: { !caseNames.contains($0) }) {
                    throw BenchmarkFailure("unknown case '\(bad)'; cases: \(caseNames.joined(separator: ", "))")
                }
                options.only = names
            case "--help", "-h": throw BenchmarkFailure(usage)
            default: throw BenchmarkFailure("unknown argument '\(arg)'\n\(usage)")
            }
            i += 1
        }
        return options
    }

    func includes(_ name: String) -> Bool { name == "floor" || only?.contains(name) ?? true }
}

/// The summary of one case over all repetitions.
public struct CaseReport: Sendable {
    public var name: String
    /// What the primary figure is, e.g. `us_per_step`.
    public var unit: String
    public var samples: [Double]
    public var median: Double { Stats.median(samples) }
    /// The primary figure expressed against the floor (or, for fan-out, against the chain), when meaningful.
    public var ratio: Double?
    public var ratioLabel: String?
    public var target: String
    public var met: Bool?
    /// Medians of secondary figures.
    public var extra: [String: Double]
    public var size: Int
}

public enum Stats {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Runs the cases, interleaved repetition by repetition so that noise on a shared machine hits every case
/// (and the floor) alike, then reports medians and ratios.
public enum BenchmarkRunner {
    public static func main(_ arguments: [String]) async -> Int32 {
        let args = Array(arguments.dropFirst())
        if args.first == "validate-only" {
            guard args.count == 2 else {
                FileHandle.standardError.write(Data("usage: runbook-bench validate-only FILE\n".utf8))
                return 2
            }
            return ValidateBenchmark.childMain(file: args[1])
        }
        do {
            var options = try BenchmarkOptions.parse(args)
            options.validateExecutable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments.first
            if options.runbookExecutable == nil { options.runbookExecutable = ProcessBenchmark.siblingExecutable(of: options.validateExecutable) }
            let reports = try await run(options)
            _ = reports
            return 0
        } catch {
            FileHandle.standardError.write(Data("runbook-bench: \(error)\n".utf8))
            return 1
        }
    }

    /// Run every selected case `options.repetitions` times and print the table and JSON lines.
    @discardableResult
    public static func run(_ options: BenchmarkOptions, output: @escaping (String) -> Void = { print($0) }) async throws -> [CaseReport] {
        let sizes = options.quick ? BenchmarkSizes.quick : BenchmarkSizes.full
        let fm = FileManager.default
        let directory: String
        var created = false
        if let dir = options.directory {
            directory = (dir as NSString).standardizingPath
            if !fm.fileExists(atPath: directory) {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
                created = true
            }
        } else {
            directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("runbook-bench-\(getpid())-\(UUID().uuidString.prefix(6))")
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            created = true
        }
        defer { if created { try? fm.removeItem(atPath: directory) } }
        let machine = MachineInfo.current(directory: directory)
        let store: BenchmarkStore
        if let url = options.database {
            store = .postgres(try await PostgresBenchDatabase.create(url, environment: options.environment, home: NSHomeDirectory()))
        } else {
            store = .sqlite
        }
        if !options.jsonOnly { header(options, machine: machine, directory: directory, store: store).forEach(output) }
        let samples: [String: [Sample]]
        do {
            samples = try await measure(options, sizes: sizes, directory: directory, store: store)
        } catch {
            if case .postgres(let database) = store { try? await database.drop() }
            throw error
        }
        if case .postgres(let database) = store { try await database.drop() }

        let reports = summarize(samples, sizes: sizes)
        if !options.jsonOnly {
            output("")
            output(table(reports))
            output("")
        }
        for report in reports { output(json(report, machine: machine, options: options, store: store)) }
        return reports
    }

    static func header(_ options: BenchmarkOptions, machine: MachineInfo, directory: String, store: BenchmarkStore) -> [String] {
        var lines = [
            "runbook-bench — \(options.quick ? "QUICK sizes (not the issue's figures)" : "full sizes") — \(options.repetitions) repetitions, median",
            "machine: \(machine.cores) cores, \(machine.cpuModel), Linux \(machine.kernel), Swift \(machine.swift)",
        ]
        switch store {
        case .sqlite:
            lines.append("databases: \(directory) on \(machine.filesystem) (WAL, synchronous=FULL, fresh file per repetition)")
        case .postgres(let database):
            let s = database.settings
            lines.append("store: \(database.urlText) (throwaway database, dropped at the end); PostgreSQL \(s["server_version"] ?? "?"), "
                + "synchronous_commit=\(s["synchronous_commit"] ?? "?"), fsync=\(s["fsync"] ?? "?"), wal_sync_method=\(s["wal_sync_method"] ?? "?")")
            lines.append("floor: one autocommit INSERT per round trip on one connection, synchronous_commit=on, same database")
        }
        #if DEBUG
        lines.append("WARNING: debug build; figures are meaningless — use `swift run -c release runbook-bench`")
        #endif
        return lines
    }

    /// The samples of every selected case, the cases interleaved repetition by repetition.
    static func measure(_ options: BenchmarkOptions, sizes: BenchmarkSizes, directory: String, store: BenchmarkStore) async throws -> [String: [Sample]] {
        let fm = FileManager.default
        func note(_ text: String) { if !options.jsonOnly { FileHandle.standardError.write(Data((text + "\n").utf8)) } }
        var samples: [String: [Sample]] = [:]
        let validateFile = options.includes("validate") ? try ValidateBenchmark.writeRunbook(directory: directory, steps: sizes.validateSteps) : nil
        defer { if let validateFile { try? fm.removeItem(atPath: validateFile) } }
        let processRunbook = options.includes("process") && options.runbookExecutable != nil
            ? try ProcessBenchmark.writeRunbook(directory: directory, steps: sizes.chainSteps) : nil
        if options.includes("process") && processRunbook == nil { note("process: no runbook binary beside runbook-bench (--runbook PATH); skipped") }
        for rep in 1...options.repetitions {
            note("repetition \(rep)/\(options.repetitions)…")
            samples["floor", default: []].append(try await store.floor(directory: directory, commits: sizes.floorCommits))
            if options.includes("chain") {
                samples["chain", default: []].append(try await BenchmarkCases.chain(directory: directory, steps: sizes.chainSteps, store: store))
            }
            if let processRunbook, let exe = options.runbookExecutable {
                samples["process", default: []].append(
                    try ProcessBenchmark.run(executable: exe, runbook: processRunbook, directory: directory, steps: sizes.chainSteps, store: store,
                                             environment: options.environment))
            }
            if options.includes("fanout") {
                samples["fanout", default: []].append(
                    try await BenchmarkCases.fanOut(directory: directory, steps: sizes.fanOutSteps, parallelism: sizes.fanOutParallelism, store: store))
            }
            if options.includes("polls") {
                samples["polls", default: []].append(try await BenchmarkCases.polls(directory: directory, polls: sizes.polls, store: store))
            }
            if options.includes("resume") {
                samples["resume", default: []].append(try await BenchmarkCases.resume(directory: directory, finished: sizes.resumeFinishedSteps, store: store))
            }
            if let validateFile { samples["validate", default: []].append(try validate(validateFile, options: options, sizes: sizes)) }
        }
        return samples
    }

    /// One repetition of the validate case: in a child process when the executable is known, else in this one.
    static func validate(_ file: String, options: BenchmarkOptions, sizes: BenchmarkSizes) throws -> Sample {
        if let exe = options.validateExecutable {
            let (result, wall, maxRSS) = try ValidateBenchmark.inChild(executable: exe, file: file)
            guard result.steps == sizes.validateSteps else { throw BenchmarkFailure("validate: \(result.steps) steps, expected \(sizes.validateSteps)") }
            return Sample(seconds: result.seconds, units: result.steps, extra: [
                "peak_rss_mb": Double(result.peakKB) / 1024, "ru_maxrss_mb": Double(maxRSS) / 1024, "child_wall_ms": wall * 1000,
            ])
        }
        let result = try ValidateBenchmark.inProcess(file: file)
        guard result.steps == sizes.validateSteps else { throw BenchmarkFailure("validate: \(result.steps) steps, expected \(sizes.validateSteps)") }
        return Sample(seconds: result.seconds, units: result.steps, extra: ["peak_rss_mb": Double(result.peakKB) / 1024])
    }

    static func summarize(_ samples: [String: [Sample]], sizes: BenchmarkSizes) -> [CaseReport] {
        func medians(_ list: [Sample], _ extra: (Sample) -> [String: Double]) -> [String: Double] {
            var values: [String: [Double]] = [:]
            for sample in list { for (k, v) in extra(sample) { values[k, default: []].append(v) } }
            return values.mapValues(Stats.median)
        }
        func common(_ s: Sample) -> [String: Double] {
            var e = s.extra
            e["durable_writes"] = Double(s.writes)
            e["writes_per_unit"] = Double(s.writes) / Double(max(1, s.units))
            e["write_wait_share"] = s.writeSeconds / s.seconds
            return e
        }
        var reports: [CaseReport] = []
        let floorSamples = samples["floor"] ?? []
        let floorUS = Stats.median(floorSamples.map { $0.seconds * 1e6 / Double($0.units) })
        reports.append(CaseReport(name: "floor", unit: "us_per_commit", samples: floorSamples.map { $0.seconds * 1e6 / Double($0.units) },
                                  target: "-", extra: [:], size: sizes.floorCommits))
        var chainStepsPerSecond: Double?
        if let list = samples["chain"] {
            let values = list.map { $0.seconds * 1e6 / Double($0.units) }
            var report = CaseReport(name: "chain", unit: "us_per_step", samples: values, target: "<= 1.5x floor", extra: medians(list, common), size: sizes.chainSteps)
            report.ratio = report.median / floorUS
            report.ratioLabel = "x floor"
            report.met = report.ratio! <= 1.5
            report.extra["write_us_per_step"] = Stats.median(list.map { $0.writeSeconds * 1e6 / Double($0.units) })
            chainStepsPerSecond = 1e6 / report.median
            reports.append(report)
        }
        if let list = samples["process"] {
            let values = list.map { $0.seconds * 1e6 / Double($0.units) }
            var report = CaseReport(name: "process", unit: "us_per_step", samples: values, target: "<= 1.2x floor", extra: [:], size: sizes.chainSteps)
            report.ratio = report.median / floorUS
            report.ratioLabel = "x floor"
            report.met = report.ratio.map { $0 <= 1.2 }
            reports.append(report)
        }
        if let list = samples["fanout"] {
            let values = list.map { Double($0.units) / $0.seconds }
            var report = CaseReport(name: "fanout", unit: "steps_per_s", samples: values, target: ">= 5x chain steps/s", extra: medians(list, common), size: sizes.fanOutSteps)
            report.extra["us_per_step"] = 1e6 / report.median
            report.extra["us_per_step_x_floor"] = 1e6 / report.median / floorUS
            if let chainStepsPerSecond {
                report.ratio = report.median / chainStepsPerSecond
                report.ratioLabel = "x chain"
                report.met = report.ratio! >= 5
            }
            reports.append(report)
        }
        if let list = samples["polls"] {
            let values = list.map { $0.seconds * 1e6 / Double($0.units) }
            var report = CaseReport(name: "polls", unit: "us_per_poll", samples: values, target: "(none; ratio shown)", extra: medians(list, common), size: sizes.polls)
            report.ratio = report.median / floorUS
            report.ratioLabel = "x floor"
            reports.append(report)
        }
        if let list = samples["resume"] {
            let values = list.map { $0.seconds * 1e3 }
            var report = CaseReport(name: "resume", unit: "ms_approve_to_done", samples: values, target: "< 200 ms", extra: medians(list, common), size: sizes.resumeFinishedSteps)
            report.ratio = report.median * 1e3 / floorUS
            report.ratioLabel = "x floor"
            report.met = report.median < 200
            reports.append(report)
        }
        if let list = samples["validate"] {
            let values = list.map { $0.seconds * 1e3 }
            var report = CaseReport(name: "validate", unit: "ms", samples: values, target: "< 1000 ms, < 100 MB peak", extra: medians(list, { $0.extra }), size: sizes.validateSteps)
            let peak = report.extra["peak_rss_mb"] ?? .infinity
            report.met = report.median < 1000 && peak < 100
            reports.append(report)
        }
        return reports
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "-" }
        if value >= 1000 { return String(format: "%.0f", value) }
        if value >= 100 { return String(format: "%.1f", value) }
        return String(format: "%.2f", value)
    }

    static func table(_ reports: [CaseReport]) -> String {
        var rows: [[String]] = [["case", "size", "median", "unit", "min", "max", "ratio", "target", "met", "notes"]]
        for r in reports {
            var notes: [String] = []
            if let w = r.extra["writes_per_unit"] { notes.append("writes/unit \(format(w))") }
            if let s = r.extra["write_wait_share"], r.name != "fanout" { notes.append("in commit \(format(s * 100))%") }
            if let p = r.extra["peak_rss_mb"] { notes.append("peak RSS \(format(p)) MB") }
            if let w = r.extra["child_wall_ms"] { notes.append("child wall \(format(w)) ms") }
            if let u = r.extra["us_per_step"] { notes.append("\(format(u)) us/step = \(format(r.extra["us_per_step_x_floor"] ?? .nan))x floor") }
            rows.append([
                r.name, String(r.size), format(r.median), r.unit, format(r.samples.min() ?? .nan), format(r.samples.max() ?? .nan),
                r.ratio.map { "\(format($0))\(r.ratioLabel.map { " " + $0 } ?? "")" } ?? "-",
                r.target, r.met.map { $0 ? "yes" : "NO" } ?? "-", notes.joined(separator: "; "),
            ])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.enumerated().map { i, row in
            let line = row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }

    static func json(_ r: CaseReport, machine: MachineInfo, options: BenchmarkOptions, store: BenchmarkStore) -> String {
        var object: [String: Any] = [
            "store": store.name,
            "case": r.name, "unit": r.unit, "size": r.size, "median": r.median,
            "min": r.samples.min() ?? 0, "max": r.samples.max() ?? 0, "samples": r.samples,
            "repetitions": r.samples.count, "quick": options.quick, "target": r.target,
            "cores": machine.cores, "cpu": machine.cpuModel, "kernel": machine.kernel, "filesystem": machine.filesystem,
        ]
        if let ratio = r.ratio { object["ratio"] = ratio; object["ratio_of"] = r.ratioLabel ?? "" }
        if let met = r.met { object["met"] = met }
        for (k, v) in r.extra where v.isFinite { object[k] = v }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
