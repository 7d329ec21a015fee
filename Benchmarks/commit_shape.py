#!/usr/bin/env python3
"""One durable commit of the engine's per-step shape against the floor's one-row INSERT (run8 in README.md).

Both databases use WAL and synchronous=FULL, as the engine's store does. The step commit mirrors what
SQLiteRunStore writes when a `pass` step finishes and the next one starts: the lease check, two step-row
updates, the chain-head read, two event inserts, the run row's chain head, the cancel-flag read. Commits are
timed in blocks of 100, step shape first, then the floor, ten blocks; prints the two medians and their ratio.
With --warm the floor first commits 3,000 rows untimed, so that its WAL file is full size and reused, as the
engine's is after its first 200 steps; without it the floor's WAL grows during the measurement, as in
runbook-bench's floor case, and each fdatasync also journals the file's new size.
Usage: python3 Benchmarks/commit_shape.py [--warm] [DIRECTORY]
"""
import hashlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time

STEPS = 1000


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def engine_database(path, run_id):
    db = fresh(path)
    db.executescript("""
        CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT, head_seq INTEGER, head_hash TEXT,
                           cancel_requested INTEGER DEFAULT 0, options TEXT);
        CREATE TABLE steps (run_id TEXT, step_id TEXT, status TEXT, attempts INTEGER, outputs TEXT, started_at INTEGER,
                            finished_at INTEGER, completion_order INTEGER, PRIMARY KEY (run_id, step_id)) WITHOUT ROWID;
        CREATE TABLE events (run_id TEXT, seq INTEGER, step_id TEXT, attempt INTEGER, kind TEXT, detail TEXT, at INTEGER,
                             actor TEXT, prev_hash TEXT, hash TEXT, state TEXT, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
        CREATE TABLE leases (run_id TEXT PRIMARY KEY, token TEXT);
    """)
    db.execute("INSERT INTO runs VALUES (?, 'running', 0, '', 0, ?)", (run_id, "x" * 300))
    db.execute("INSERT INTO leases VALUES (?, 'token')", (run_id,))
    for i in range(STEPS):
        db.execute("INSERT INTO steps VALUES (?, ?, 'pending', 0, '{}', NULL, NULL, NULL)", (run_id, "s%04d" % i))
    return db


def main():
    arguments = [a for a in sys.argv[1:] if a != "--warm"]
    warm = "--warm" in sys.argv[1:]
    directory = arguments[0] if arguments else tempfile.mkdtemp(prefix="commit-shape-")
    run_id = "20261201-230000-abcdef"
    floor = fresh(os.path.join(directory, "floor.sqlite"))
    floor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    engine = engine_database(os.path.join(directory, "engine.sqlite"), run_id)
    chain = {"seq": 0, "hash": "0" * 64}

    def step_commit(i):
        engine.execute("BEGIN IMMEDIATE")
        engine.execute("SELECT token FROM leases WHERE run_id = ?", (run_id,)).fetchone()
        engine.execute("UPDATE steps SET status = 'succeeded', attempts = 1, outputs = '{}', finished_at = 2, completion_order = ? "
                       "WHERE run_id = ? AND step_id = ?", (i, run_id, "s%04d" % i))
        if i + 1 < STEPS:
            engine.execute("UPDATE steps SET status = 'running', attempts = 1, started_at = 2 WHERE run_id = ? AND step_id = ?",
                           (run_id, "s%04d" % (i + 1)))
        engine.execute("SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
        for kind in ("step_succeeded", "step_started"):
            chain["seq"] += 1
            digest = hashlib.sha256((chain["hash"] + kind + str(chain["seq"])).encode()).hexdigest()
            engine.execute("INSERT INTO events VALUES (?, ?, ?, 1, ?, '{\"action\":\"pass\"}', 2, "
                           "'{\"host\":\"h\",\"pid\":1,\"user\":\"u\"}', ?, ?, ?)",
                           (run_id, chain["seq"], "s%04d" % i, kind, chain["hash"], digest, "a" * 64))
            chain["hash"] = digest
        engine.execute("UPDATE runs SET head_seq = ?, head_hash = ? WHERE id = ?", (chain["seq"], chain["hash"], run_id))
        engine.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        engine.execute("COMMIT")

    def floor_commit(_):
        floor.execute("BEGIN IMMEDIATE")
        floor.execute("INSERT INTO t (v) VALUES (?)", ("y" * 200,))
        floor.execute("COMMIT")

    if warm:
        for i in range(3000):
            floor_commit(i)
    floor_times, step_times = [], []
    for block in range(STEPS // 100):
        for body, times in ((step_commit, step_times), (floor_commit, floor_times)):
            for i in range(block * 100, block * 100 + 100):
                start = time.perf_counter()
                body(i)
                times.append(time.perf_counter() - start)
    floor_us = statistics.median(floor_times) * 1e6
    step_us = statistics.median(step_times) * 1e6
    print(("warm " if warm else "") + "floor %.0f us per commit, engine's step shape %.0f us per commit, ratio %.2f" % (floor_us, step_us, step_us / floor_us))


if __name__ == "__main__":
    main()
