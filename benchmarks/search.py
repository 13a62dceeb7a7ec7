"""Search latency on a generated database of 1,000,000 claims: a rare term, a common term and a
filtered query, ranked, limit 20, against a LIKE '%term%' scan of the same rows; and the common
term ranked by FTS5's bm25 over every match, for its time and its first 20.

    .venv/bin/python benchmarks/search.py [--claims 1000000] [--repeats 21] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from monitor.pipeline import claim_id
from monitor.records import CATEGORIES, Article, Claim, ClaimFilter, Sentence
from monitor.storage.store import Store

PHRASES = [
    "Ketamine infusions reduced depressive symptoms within {n} hours in the trial.",
    "Esketamine nasal spray was associated with dissociation in {n}% of sessions.",
    "Patients paid about ${n} per infusion out of pocket.",
    "Relapse occurred a median of {n} days after the last infusion.",
    "Blood pressure rose by {n} mmHg after dosing and settled within two hours.",
    "Insurers covered the spray for {n}% of applicants after prior authorisation.",
]


def build(path: Path, claims: int, per_article: int = 50) -> None:
    rng = random.Random(7)
    with Store(path) as store:
        for n in range(claims // per_article):
            sentences, text = [], []
            offset = 0
            for i in range(per_article):
                sentence = rng.choice(PHRASES).format(n=rng.randint(2, 900))
                if n % 20_000 == 0 and i == 0:
                    sentence = "A rare finding of ulcerative cystitis was reported after ketamine."
                sentences.append(
                    Sentence(
                        f"url:https://bench.example/{n}",
                        sentence,
                        "text",
                        offset,
                        offset + len(sentence),
                        ("ketamine",),
                    )
                )
                text.append(sentence)
                offset += len(sentence) + 1
            article = Article(
                f"url:https://bench.example/{n}",
                None,
                f"Study {n} of ketamine",
                " ".join(text),
                f"Source {n % 40}",
                "https://bench.example/feed",
                evidence_tier=("preprint", "news")[n % 2],
            )
            store.save_article(
                article,
                [
                    Claim(claim_id(s), s, CATEGORIES[(n + i) % 4], 0.9, 0.9, "v", {})
                    for i, s in enumerate(sentences)
                ],
            )


def timed(function, repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "search.db"
        started = time.perf_counter()
        build(path, args.claims)
        print(
            f"{args.claims:,} claims generated in {time.perf_counter() - started:.0f}s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
        cases = {
            "rare": ("cystitis", ClaimFilter(limit=20), "cystitis"),
            "common": ("infusion", ClaimFilter(limit=20), "infusion"),
            "filtered": (
                "relapse",
                ClaimFilter(categories=("duration",), evidence_tiers=("preprint",), limit=20),
                "relapse",
            ),
        }
        with Store(path, readonly=True) as store:
            raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            print(
                f"median and p95 of {args.repeats} runs, limit 20 (the library call behind `monitor search`):"
            )
            for name, (query, filters, word) in cases.items():
                hits = len(store.search(query, filters))
                fts = timed(lambda q=query, f=filters: store.search(q, f), args.repeats)
                like = timed(
                    lambda w=word: raw.execute(
                        "SELECT count(*) FROM claims WHERE text LIKE ?", [f"%{w}%"]
                    ).fetchall(),
                    3,
                )
                matches = raw.execute(
                    "SELECT count(*) FROM claims_search WHERE claims_search MATCH ?", [f'"{word}"']
                ).fetchone()[0]
                figures[name] = {
                    "median_ms": fts[0],
                    "p95_ms": fts[1],
                    "like_ms": like[0],
                    "matches": matches,
                }
                print(
                    f"  {name} ({query}, {matches:,} matches) ranked: median {fts[0]:7.1f} ms, "
                    f"p95 {fts[1]:7.1f} ms ({hits} hits)   LIKE full scan {like[0]:7.0f} ms"
                )
            # The common word ranked by BM25 over every match, as FTS5 alone would: the time it takes
            # and how many of its first 20 the short-first ranking also puts first.
            everything = (
                "SELECT claims_search.rowid FROM claims_search WHERE claims_search MATCH ?"
                " ORDER BY bm25(claims_search, 1.0, 0.5), claims_search.rowid LIMIT 20"
            )
            exact = timed(
                lambda: raw.execute(everything, ['"infusion"']).fetchall(), max(3, args.repeats // 4)
            )
            best = {r[0] for r in raw.execute(everything, ['"infusion"'])}
            ours = store.search("infusion", ClaimFilter(limit=20))
            rowids = {
                raw.execute("SELECT rowid FROM claims WHERE id = ?", [c.claim_id]).fetchone()[0] for c in ours
            }
            scores = {
                round(r[0], 9)
                for r in raw.execute(
                    "SELECT bm25(claims_search, 1.0, 0.5) FROM claims_search WHERE claims_search MATCH ?"
                    " ORDER BY 1 LIMIT 20",
                    ['"infusion"'],
                )
            }
            same_scores = sum(1 for c in ours if c.rank is not None and round(c.rank, 9) in scores)
            figures["common"] |= {
                "bm25_all_median_ms": exact[0],
                "bm25_all_p95_ms": exact[1],
                "same_first_20": len(best & rowids),
                "same_scores_first_20": same_scores,
            }
            print(
                f"  common word, every match scored by FTS5 bm25: median {exact[0]:.1f} ms, "
                f"p95 {exact[1]:.1f} ms; "
                f"its first 20 and ours: {len(best & rowids)} the same claims, {same_scores} of ours with a "
                "score among its 20 best (ties broken differently)"
            )
            raw.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
