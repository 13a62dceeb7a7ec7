"""Run every file of ../shared/corpus/feedparser and ../shared/corpus/feeds through parse,
extract, classify and store, and tally: files, read, rejected (with a one-line reason), crashes.

    .venv/bin/python scripts/corpus_check.py [--show-rejected] [CORPUS_DIR ...]

Exit status 1 if anything crashed. Needs ../shared/corpus (beside the checkout).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from monitor.config import Settings, default_models_dir
from monitor.errors import FeedError
from monitor.ingest.fetch import HttpFetcher
from monitor.ingest.parse import parse_feed
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import SentenceExtractor, build_nlp
from monitor.pipeline import classify_sentences
from monitor.records import FeedSource
from monitor.storage.store import Store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SKIP_SUFFIXES = {".md", ".txt", ".py", ".json-ld"}


def corpus_files(roots: list[Path]) -> list[Path]:
    files = []
    for root in roots:
        files += [
            p
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES and not p.name.startswith("LICENSE")
        ]
    return files


def check(
    path: Path, fetcher: HttpFetcher, store: Store, extractor: SentenceExtractor, classifier: ClaimClassifier
) -> tuple[str, str]:
    """("ok", detail) or ("rejected", reason); anything raised here is a crash."""
    result = fetcher.fetch(FeedSource(path.as_uri()))
    if not result.ok:
        return "rejected", result.error or "unreadable"
    try:
        feed = parse_feed(result)
    except FeedError as exc:
        return "rejected", exc.reason
    stored = claims = 0
    for article, sentences in extractor.extract(feed.articles):
        found = classify_sentences(article, sentences, classifier, 0.5)
        if store.save_article(article, found):
            stored += 1
            claims += len(found)
    store.record_fetch(result, feed, None)
    return "ok", f"{feed.format}, {len(feed.articles)} items, {stored} new articles, {claims} claims"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path)
    parser.add_argument("--show-rejected", action="store_true")
    args = parser.parse_args()
    roots = [r.resolve() for r in args.roots] or [CORPUS / "feedparser", CORPUS / "feeds"]
    missing = [r for r in roots if not r.is_dir()]
    if missing:
        print(f"corpus not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    classifier = ClaimClassifier.load(default_models_dir())
    extractor = SentenceExtractor(build_nlp())
    tally: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    crashes = []
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(Path(folder) / "corpus.db") as store,
        HttpFetcher(Settings()) as fetcher,
    ):
        files = corpus_files(roots)
        for path in files:
            try:
                outcome, detail = check(path, fetcher, store, extractor, classifier)
            except Exception:  # the point of this script: count and show what nothing else caught
                crashes.append((path, traceback.format_exc(limit=3)))
                tally["crashed"] += 1
                continue
            tally[outcome] += 1
            if outcome == "rejected":
                reasons[detail[:100]] += 1
                if args.show_rejected:
                    print(f"rejected {path.relative_to(path.parents[1])}: {detail}")
        counts = store.counts()
    print(
        f"files {len(files)}: ok {tally['ok']}, rejected {tally['rejected']}, crashed {tally['crashed']} "
        f"({time.perf_counter() - started:.0f}s; stored {counts['articles']} articles, "
        f"{counts['claims']} claims)"
    )
    for reason, n in reasons.most_common():
        print(f"  rejected {n:4d}: {reason}")
    for path, trace in crashes:
        print(f"CRASH {path}\n{trace}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
