#!/usr/bin/env python3
"""Peer benchmark: the same 1,000-step sequential chain as runbook-bench's `chain` case, in DBOS Transact
with its SQLite system database. Each step is a `@DBOS.step()` that returns its argument (the analogue of a
`pass` step); the workflow calls them one after another. Reports microseconds per step (median of several
repetitions, each on a fresh system database file) as one JSON line.

    pip install -r Benchmarks/peers/requirements.txt
    python3 Benchmarks/peers/dbos_chain.py [--steps 1000] [--repetitions 5] [--dir PATH]
"""
import argparse
import json
import logging
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

from dbos import DBOS, SetWorkflowID
import dbos as dbos_module


@DBOS.step()
def pass_step(i: int) -> int:
    return i


@DBOS.workflow()
def chain(n: int) -> int:
    total = 0
    for i in range(n):
        total += pass_step(i)
    return total


def step_rows(path: str, workflow_id: str) -> int:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        table = next(t for t in tables if t.endswith("operation_outputs"))
        return con.execute(f"SELECT count(*) FROM {table} WHERE workflow_uuid = ?", (workflow_id,)).fetchone()[0]
    finally:
        con.close()


def journal_settings(path: str) -> dict:
    con = sqlite3.connect(path)
    try:
        return {"journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0]}
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--dir", default=None, help="directory for the system databases (default: a temp dir)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    base = args.dir or tempfile.mkdtemp(prefix="dbos-bench-")
    os.makedirs(base, exist_ok=True)
    samples = []
    settings = {}
    for rep in range(args.repetitions):
        path = os.path.join(base, f"dbos-chain-{uuid.uuid4().hex[:8]}.sqlite")
        DBOS(config={"name": "dbos-chain-bench", "system_database_url": f"sqlite:///{path}", "log_level": "ERROR"})
        DBOS.launch()
        try:
            chain(3)  # warm-up (imports, statement compilation)
            wid = f"chain-{uuid.uuid4().hex}"
            start = time.perf_counter()
            with SetWorkflowID(wid):
                result = chain(args.steps)
            elapsed = time.perf_counter() - start
            assert result == args.steps * (args.steps - 1) // 2, "wrong result"
            rows = step_rows(path, wid)
            assert rows >= args.steps, f"only {rows} step outputs recorded"
            settings = journal_settings(path)
            samples.append(elapsed * 1e6 / args.steps)
        finally:
            DBOS.destroy(destroy_registry=False)
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.remove(path + suffix)
                except FileNotFoundError:
                    pass
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({
        "case": "dbos_chain", "unit": "us_per_step", "steps": args.steps,
        "median": statistics.median(samples), "min": min(samples), "max": max(samples),
        "samples": [round(s, 2) for s in samples],
        "dbos_version": getattr(dbos_module, "__version__", None) or _version(),
        "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, **settings,
    }))
    return 0


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("dbos")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
