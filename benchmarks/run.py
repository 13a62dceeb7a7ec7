"""`make bench`: run every benchmark, print each figure beside its target in one table, write
benchmarks/results.json, and regenerate the README's performance table from it.

    .venv/bin/python benchmarks/run.py            # run all, write results.json, update README.md
    .venv/bin/python benchmarks/run.py --table    # print the table of the committed results only
    .venv/bin/python benchmarks/run.py --readme   # and write it into README.md

Each benchmark prints its own details (and the polling one its profile) as it runs; this
collects the figures each writes with --json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

STEPS = {
    "cold": ["cold_start.py", "--runs", "5"],
    "polling": ["polling.py", "--profile"],
    "extraction": ["extraction.py", "--docs", "10000"],
    "search": ["search.py"],
    "export": ["export_memory.py"],
}


@dataclass(frozen=True)
class Row:
    """One line of the table: what, how it is shown, the baseline, the target and whether it is met."""

    what: str
    value: Callable[[dict], str]
    baseline: Callable[[dict], str]
    target: str
    met: Callable[[dict], bool] | None


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


ROWS = [
    Row(
        "model load: import and load the claim models in a fresh process (median of 5)",
        lambda r: _s(r["cold"]["model_load_s"]),
        lambda r: "",
        "under 0.5 s",
        lambda r: r["cold"]["model_load_s"] < 0.5,
    ),
    Row(
        '`monitor classify "one sentence"`, wall time of the command (median of 5)',
        lambda r: _s(r["cold"]["classify_s"]),
        lambda r: "",
        "under 1.0 s",
        lambda r: r["cold"]["classify_s"] < 1.0,
    ),
    Row(
        "`monitor search relapse` on the demo database, wall time (median of 5)",
        lambda r: _s(r["cold"]["search_s"]),
        lambda r: "",
        "under 0.5 s",
        lambda r: r["cold"]["search_s"] < 0.5,
    ),
    Row(
        "`monitor --help`, wall time (median of 5)",
        lambda r: _s(r["cold"]["help_s"]),
        lambda r: "",
        "under 0.3 s",
        lambda r: r["cold"]["help_s"] < 0.3,
    ),
    Row(
        "polling, first pass: `monitor once` over 200 feeds x 30 items on 200 hosts, 100 ms latency, "
        "a new process (Python, models), article pages read for the ketamine items",
        lambda r: (
            f"{_s(r['polling']['first_pass_s'])} "
            f"({r['polling']['serial_s'] / r['polling']['first_pass_s']:.1f}x)"
        ),
        lambda r: f"{_s(r['polling']['serial_s'])} serial httpx + feedparser",
        "5x the serial loop",
        lambda r: r["polling"]["serial_s"] / r["polling"]["first_pass_s"] >= 5,
    ),
    Row(
        'polling, the same first pass without article pages (`full_text = "never"`)',
        lambda r: (
            f"{_s(r['polling']['first_pass_without_pages_s'])} "
            f"({r['polling']['serial_s'] / r['polling']['first_pass_without_pages_s']:.1f}x)"
        ),
        lambda r: f"pages read in the first pass: {r['polling']['pages']}",
        "",
        None,
    ),
    Row(
        "polling, the same first pass inside `monitor run` (models loaded)",
        lambda r: (
            f"{_s(r['polling']['service_pass_s'])} "
            f"({r['polling']['serial_s'] / r['polling']['service_pass_s']:.1f}x)"
        ),
        lambda r: "",
        "",
        None,
    ),
    Row(
        "polling, second pass: every feed answers 304",
        lambda r: _s(r["polling"]["all_304_s"]),
        lambda r: "",
        "under 2 s",
        lambda r: r["polling"]["all_304_s"] < 2,
    ),
    Row(
        "peak resident memory of `monitor once` (polling)",
        lambda r: f"{r['polling']['peak_mb']} MB",
        lambda r: "",
        "under 500 MB",
        lambda r: r["polling"]["peak_mb"] < 500,
    ),
    Row(
        "extraction + classification, 10,000 abstract-length documents, 5% about ketamine",
        lambda r: f"{r['extraction']['docs_per_s']:.0f} docs/s",
        lambda r: f"{r['extraction']['baseline_docs_per_s']:.0f} docs/s with spaCy on every document",
        "500 docs/s",
        lambda r: r["extraction"]["docs_per_s"] >= 500,
    ),
    Row(
        "peak resident memory of the extraction run (corpus and models included)",
        lambda r: f"{r['extraction']['peak_mb']} MB",
        lambda r: "",
        "under 500 MB",
        lambda r: r["extraction"]["peak_mb"] < 500,
    ),
    Row(
        "search, 1,000,000 claims, rare term, limit 20 (p95 of 21)",
        lambda r: f"{r['search']['rare']['p95_ms']:.1f} ms",
        lambda r: f"LIKE scan {r['search']['rare']['like_ms']:.0f} ms",
        "p95 under 50 ms",
        lambda r: r["search"]["rare"]["p95_ms"] < 50,
    ),
    Row(
        "search, 1,000,000 claims, common term (`infusion`), ranked among its 1,000 shortest matches "
        "(none left out), limit 20 (p95 of 21)",
        lambda r: (
            f"{r['search']['common']['p95_ms']:.0f} ms ({r['search']['common']['matches']:,} matches; "
            f"first 20 as with every match scored: {r['search']['common']['same_first_20']} of 20)"
        ),
        lambda r: f"FTS5 bm25 over every match {r['search']['common']['bm25_all_p95_ms']:.0f} ms",
        "p95 under 300 ms",
        lambda r: r["search"]["common"]["p95_ms"] < 300,
    ),
    Row(
        "search, filtered (relapse, duration, preprint), limit 20 (p95 of 21)",
        lambda r: f"{r['search']['filtered']['p95_ms']:.0f} ms",
        lambda r: f"LIKE scan {r['search']['filtered']['like_ms']:.0f} ms",
        "",
        None,
    ),
    Row(
        "export as JSON Lines, 200,000 claims",
        lambda r: f"{_s(r['export']['jsonl_s'])}, peak traced memory {r['export']['peak_kb_large']:.0f} kB",
        lambda r: f"{r['export']['peak_kb_small']:.0f} kB for 20,000",
        "constant memory",
        lambda r: r["export"]["peak_kb_large"] < 2 * r["export"]["peak_kb_small"] + 100,
    ),
]


def table(results: dict) -> str:
    lines = ["| benchmark | the monitor | baseline, same run | target | |", "| --- | --- | --- | --- | --- |"]
    for row in ROWS:
        verdict = "" if row.met is None else ("met" if row.met(results) else "**missed**")
        lines.append(
            f"| {row.what} | {row.value(results)} | {row.baseline(results)} | {row.target} | {verdict} |"
        )
    machine = results["machine"]
    return (
        f"Measured on {results['measured']} on {machine} with `make bench` "
        "(figures in `benchmarks/results.json`; this table is generated from it).\n\n" + "\n".join(lines)
    )


def update_readme(results: dict) -> None:
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}", encoding="utf-8")


def run_all(only: list[str]) -> dict:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        for name, command in STEPS.items():
            if only and name not in only:
                continue
            out = Path(folder) / f"{name}.json"
            print(f"\n== {name}: {' '.join(command)}", flush=True)
            subprocess.run(
                [sys.executable, str(HERE / command[0]), *command[1:], "--json", str(out)], check=True
            )
            results[name] = json.loads(out.read_text())
    results["measured"] = datetime.now(UTC).date().isoformat()
    results["machine"] = (
        f"{platform.machine()}, CPython {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table", action="store_true", help="print the committed results' table, run nothing"
    )
    parser.add_argument(
        "--readme", action="store_true", help="write the committed results' table into README.md, run nothing"
    )
    parser.add_argument("--only", action="append", default=[], choices=list(STEPS), help="run only these")
    args = parser.parse_args()
    if args.table or args.readme:
        committed = json.loads(RESULTS.read_text())
        if args.readme:
            update_readme(committed)
        print(table(committed))
        return
    results = run_all(args.only)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    update_readme(results)
    print("\n" + table(results))
    print(f"\nwrote {RESULTS.relative_to(ROOT)} and the performance table in README.md")


if __name__ == "__main__":
    main()
