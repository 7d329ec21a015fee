// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "runbook",
    products: [
        .executable(name: "runbook", targets: ["runbook"]),
        .executable(name: "runbook-bench", targets: ["runbook-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
    ],
    targets: [
        // The system libsqlite3 (Debian libsqlite3-dev), the GRDB way.
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // Starts shell steps under a supervisor that leads their process group and kills the group when
        // the driver dies.
        .target(name: "CRunbookProcess", path: "Sources/CRunbookProcess"),
        // Definitions, templating, the DAG, the action protocol, the store protocol and the executor.
        .target(
            name: "RunbookEngine",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The durable store: WAL, synchronous=FULL, migrations, leases, hash-chained audit events.
        .target(
            name: "RunbookSQLite",
            dependencies: [
                "CSQLite",
                "RunbookEngine",
            ]
        ),
        // A small native AWS client: SigV4, credentials, Query and REST-XML protocols, retries, waiters.
        .target(
            name: "RunbookAWS",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The PostgreSQL data plane: sessions with time limits and verify-full TLS, WAL positions, canary rows.
        .target(
            name: "RunbookPostgres",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The shared run store on PostgreSQL: the same contract as the SQLite store, leases across machines.
        .target(
            name: "RunbookPostgresStore",
            dependencies: [
                "RunbookEngine",
                "RunbookPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Built-in step actions (shell, pass, sleep, fail, approve) and the AWS actions.
        .target(
            name: "RunbookActions",
            dependencies: ["RunbookEngine", "RunbookAWS", "RunbookPostgres", "CRunbookProcess"]
        ),
        // The command line: one file per subcommand, output formatting.
        .target(
            name: "RunbookCLI",
            dependencies: [
                "RunbookEngine",
                "RunbookSQLite",
                "RunbookPostgresStore",
                "RunbookActions",
                "RunbookAWS",
                "RunbookReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // `runbook report`: a run's evidence as HTML (inline SVG timeline), Markdown and JSON.
        .target(name: "RunbookReport", dependencies: ["RunbookEngine"]),
        .executableTarget(name: "runbook", dependencies: ["RunbookCLI"]),
        // Engine benchmarks (issue: per-step cost vs one durable SQLite commit, vs DBOS).
        .target(
            name: "RunbookBenchmarks",
            dependencies: [
                "RunbookEngine", "RunbookSQLite", "RunbookActions", "CSQLite", "RunbookPostgres", "RunbookPostgresStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .executableTarget(name: "runbook-bench", dependencies: ["RunbookBenchmarks"]),
        // Test helpers shared by the test targets: the local AWS emulator (moto) launcher, temp dirs.
        .target(name: "RunbookTestSupport", path: "Tests/Support"),
        // The contract every `RunStore` must meet, stated once and run by each store's tests.
        .target(name: "RunbookStoreContract", dependencies: ["RunbookEngine"], path: "Tests/StoreContract"),

        .testTarget(name: "RunbookEngineTests", dependencies: ["RunbookEngine"], exclude: ["Fixtures"]),
        .testTarget(name: "RunbookSQLiteTests", dependencies: ["RunbookSQLite", "RunbookEngine", "CSQLite", "RunbookStoreContract"]),
        .testTarget(name: "RunbookPostgresStoreTests", dependencies: [
            "RunbookPostgresStore", "RunbookPostgres", "RunbookEngine", "RunbookActions", "RunbookSQLite", "RunbookTestSupport",
            "RunbookStoreContract",
        ]),
        .testTarget(name: "RunbookAWSTests", dependencies: ["RunbookAWS", "RunbookTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "RunbookActionsTests", dependencies: ["RunbookActions", "RunbookEngine", "RunbookAWS", "RunbookPostgres", "RunbookSQLite", "RunbookTestSupport"]),
        // Runs the built `runbook` binary (`swift build --build-tests` builds it), so it imports none of the CLI's modules.
        .testTarget(name: "RunbookCLITests", dependencies: ["CSQLite", "RunbookAWS", "RunbookPostgres", "RunbookTestSupport"], exclude: ["Scripts"]),
        .testTarget(name: "RunbookPostgresTests", dependencies: ["RunbookPostgres", "RunbookTestSupport"]),
        .testTarget(name: "RunbookBenchmarksTests", dependencies: ["RunbookBenchmarks", "RunbookEngine", "RunbookTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
