"""Cold-start cost of the claim models: (a) importing the classifier and loading the shipped models
in a new Python process, timed inside it; (b) the wall time of a whole `monitor classify` command.
Medians over fresh processes (each one starts cold, bar the operating system's file cache).

    .venv/bin/python benchmarks/model_load.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def classify() -> float:
    start = time.perf_counter()
    subprocess.run([str(MONITOR), "classify", SENTENCE], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    model_load()  # warm the file cache: every run then reads the same cached files
    loads = [model_load() for _ in range(args.runs)]
    classifies = [classify() for _ in range(args.runs)]
    figures = {
        "model_load_s": round(statistics.median(loads), 3),
        "classify_s": round(statistics.median(classifies), 3),
    }
    print(
        f"import + load of the classifier, median of {args.runs} processes: {figures['model_load_s']:.3f} s"
    )
    print(f"  runs: {', '.join(f'{t:.3f}' for t in loads)}")
    print(f'monitor classify "{SENTENCE}", wall, median of {args.runs}: {figures["classify_s"]:.3f} s')
    print(f"  runs: {', '.join(f'{t:.3f}' for t in classifies)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
