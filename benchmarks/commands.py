"""One-off commands as a person types them: wall time of a fresh `monitor --help` and of
`monitor search relapse` on the demo database, median of several cold processes.

    .venv/bin/python benchmarks/commands.py [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(command: list[str], env: dict[str, str], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    monitor = [sys.executable, "-m", "monitor"]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, MONITOR_HOME=home)
        db = Path(home) / "demo.db"
        subprocess.run(
            [*monitor, "once", "--feeds", str(ROOT / "examples" / "feeds.txt"), "--db", str(db)],
            env=env,
            check=True,
            capture_output=True,
        )
        figures = {
            "help_s": wall([*monitor, "--help"], env, args.repeats),
            "search_s": wall([*monitor, "search", "relapse", "--db", str(db)], env, args.repeats),
        }
    print(f"one-off commands, median of {args.repeats} fresh processes:")
    print(f"  monitor --help                          {figures['help_s']:.2f} s")
    print(f"  monitor search relapse (demo database)  {figures['search_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
