"""Search latency on a generated database of 1,000,000 claims: a rare term, a common term and a
filtered query, ranked, limit 20, against a LIKE '%term%' scan of the same rows.

    .venv/bin/python benchmarks/search.py [--claims 1000000] [--repeats 21]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import monitor.storage.store
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "search.db"
        started = time.perf_counter()
        build(path, args.claims)
        print(
            f"{args.claims:,} claims generated in {time.perf_counter() - started:.0f}s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
        cases = {
            "rare term (cystitis)": ("cystitis", ClaimFilter(limit=20), "cystitis"),
            "common term (infusion)": ("infusion", ClaimFilter(limit=20), "infusion"),
            "filtered (relapse, duration, preprint)": (
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
                        "SELECT id, text FROM claims WHERE text LIKE ? LIMIT 20", [f"%{w}%"]
                    ).fetchall(),
                    max(3, args.repeats // 4),
                )
                like_all = timed(
                    lambda w=word: raw.execute(
                        "SELECT count(*) FROM claims WHERE text LIKE ?", [f"%{w}%"]
                    ).fetchall(),
                    3,
                )
                print(
                    f"  {name:<40} FTS ranked: median {fts[0]:7.1f} ms, p95 {fts[1]:7.1f} ms ({hits} hits)   "
                    f"LIKE first 20 unranked: median {like[0]:7.1f} ms   LIKE full scan {like_all[0]:7.0f} ms"
                )
            # The same common-term search with exact ranking (every match scored), for comparison.
            matches = raw.execute(
                "SELECT count(*) FROM claims_search WHERE claims_search MATCH 'infusion'"
            ).fetchone()[0]
            window, monitor.storage.store.RANK_WINDOW = monitor.storage.store.RANK_WINDOW, args.claims + 1
            exact = timed(lambda: store.search("infusion", ClaimFilter(limit=20)), max(3, args.repeats // 4))
            monitor.storage.store.RANK_WINDOW = window
            print(
                f"  common term, {matches:,} matches: ranked among the newest {window:,} as above; "
                f"every match scored: median {exact[0]:.1f} ms, p95 {exact[1]:.1f} ms"
            )
            raw.close()


if __name__ == "__main__":
    main()
