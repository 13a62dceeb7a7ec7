"""Cold starts, as a person meets them: (a) importing the classifier and loading the shipped models
in a new Python process, timed inside it; the wall time of whole commands: (b) `monitor classify`
with one sentence, (c) `monitor --help`, (d) `monitor search relapse` on the demo database.
Medians over fresh processes (each starts cold, bar the operating system's file cache).

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--json FILE]
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
SENTENCE = "Ketamine lifted mood within hours."
MONITOR = Path(sys.executable).with_name("monitor")

# Run in the child: the time from before the first import of the classifier to a loaded model.
LOAD = """
import time
start = time.perf_counter()
from monitor.config import default_models_dir
from monitor.language.classify import ClaimClassifier
ClaimClassifier.load(default_models_dir())
print(time.perf_counter() - start)
"""


def model_load() -> float:
    # -P: the working directory stays off sys.path, so the monitor measured is the installed one.
    result = subprocess.run([sys.executable, "-P", "-c", LOAD], capture_output=True, text=True, check=True)
    return float(result.stdout)


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    model_load()  # warm the file cache: every run then reads the same cached files
    samples: dict[str, list[float]] = {"model_load_s": [], "classify_s": [], "help_s": [], "search_s": []}
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, MONITOR_HOME=home)
        db = Path(home) / "demo.db"
        subprocess.run(
            [str(MONITOR), "once", "--feeds", str(ROOT / "examples" / "feeds.txt"), "--db", str(db)],
            env=env,
            capture_output=True,
            check=True,
        )
        for _ in range(args.runs):
            samples["model_load_s"].append(model_load())
            samples["classify_s"].append(wall([str(MONITOR), "classify", SENTENCE], env))
            samples["help_s"].append(wall([str(MONITOR), "--help"], env))
            samples["search_s"].append(wall([str(MONITOR), "search", "relapse", "--db", str(db)], env))
    figures = {name: round(statistics.median(runs), 3) for name, runs in samples.items()}
    labels = {
        "model_load_s": "import + load of the classifier (timed inside the process)",
        "classify_s": f'monitor classify "{SENTENCE}", wall',
        "help_s": "monitor --help, wall",
        "search_s": "monitor search relapse on the demo database, wall",
    }
    print(f"cold starts, median of {args.runs} fresh processes:")
    for name, label in labels.items():
        runs = ", ".join(f"{t:.3f}" for t in samples[name])
        print(f"  {label}: {figures[name]:.3f} s   (runs: {runs})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
