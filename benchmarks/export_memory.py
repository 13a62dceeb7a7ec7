"""Export memory: peak Python memory of `monitor export` over 200,000 claims, against 20,000.

Streaming means the peak should not grow with the number of rows.

    .venv/bin/python benchmarks/export_memory.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from monitor.delivery.export import export_claims
from monitor.pipeline import claim_id
from monitor.records import Article, Claim, Sentence
from monitor.storage.store import Store


class Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def fill(path: Path, rows: int, per_article: int = 1000) -> None:
    with Store(path) as store:
        for n in range(rows // per_article):
            text = f"Ketamine trial {n} reported response in {n % 90}% of patients within 24 hours."
            article = Article(
                f"url:https://big.example/{n}", None, f"Trial {n}", text, "Big", "https://big.example"
            )
            sentences = (
                Sentence(article.id, text, "text", i, i + len(text), ("Ketamine",))
                for i in range(per_article)
            )
            claims = [Claim(claim_id(s), s, "efficacy", 0.9, 0.9, "v", {"efficacy": 0.9}) for s in sentences]
            store.save_article(article, claims)


def measure(path: Path, fmt: str) -> tuple[int, float, float]:
    """Rows written, peak traced memory in kB, seconds."""
    tracemalloc.start()
    started = time.perf_counter()
    written = export_claims(path, fmt, Discard())
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return written, peak / 1e3, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    peaks: dict[int, float] = {}
    timing: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for rows in (args.rows // 10, args.rows):
            path = Path(folder) / f"{rows}.db"
            started = time.perf_counter()
            fill(path, rows)
            print(
                f"{rows:>8} claims stored in {time.perf_counter() - started:.0f}s "
                f"({path.stat().st_size / 1e6:.0f} MB)"
            )
            for fmt in ("jsonl", "csv", "json"):
                written, peak, seconds = measure(path, fmt)
                peaks[rows] = max(peaks.get(rows, 0.0), peak)
                if fmt == "jsonl":
                    timing[rows] = seconds
                print(
                    f"    export {fmt:<5} {written:>8} rows  {seconds:6.1f}s  "
                    f"{written / seconds:8.0f} rows/s  peak traced memory {peak:7.1f} kB"
                )
    print(
        "max resident set size of this process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    if args.json:
        small, large = args.rows // 10, args.rows
        figures = {
            "rows": large,
            "jsonl_s": timing[large],
            "peak_kb_small": peaks[small],
            "peak_kb_large": peaks[large],
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
