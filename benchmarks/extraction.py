"""Extraction throughput: the monitor's prefiltered extractor against spaCy on every document.

Corpus: abstract-length documents, about 5% mentioning ketamine, built from ../shared/corpus
(MEDLINE abstracts for the rest, real ketamine texts cut to abstract length). Both sides run
the same spaCy pipeline in batches of 32 and the same claim classifier; the only difference is
the lexicon prefilter that decides which documents reach spaCy at all.

    .venv/bin/python benchmarks/extraction.py [--docs 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

from monitor.config import default_models_dir
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import SentenceExtractor, build_nlp, candidates, title_sentence
from monitor.language.lexicon import is_about_ketamine, mentions_ketamine
from monitor.pipeline import BATCH, classify_batch
from monitor.records import Article

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def build_corpus(total: int, share: float = 0.05) -> list[Article]:
    medline = SHARED / "feeds" / "pubmed-eutils" / "medline16n0902_sample.xml"
    texts = SHARED / "ketamine-texts" / "ketamine_texts.jsonl"
    if not medline.exists() or not texts.exists():
        sys.exit(f"corpus not found under {SHARED}: this benchmark needs ../shared/corpus")
    tree = etree.parse(str(medline), etree.XMLParser(resolve_entities=False, no_network=True))
    others = []
    for citation in tree.iter("MedlineCitation"):
        title = "".join(citation.findtext(".//ArticleTitle") or "")
        abstract = " ".join("".join(a.itertext()) for a in citation.iter("AbstractText"))
        if len(abstract) > 400 and not mentions_ketamine(title + abstract):
            others.append((title, abstract))
    ketamine = []
    for line in texts.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if mentions_ketamine(row["text"][:1800]):
            ketamine.append((row.get("title") or "", row["text"][:1800]))
    wanted_k = round(total * share)
    docs = [others[i % len(others)] for i in range(total - wanted_k)]
    # Spread the ketamine documents evenly, so every batch looks like a real feed.
    step = total // max(1, wanted_k)
    for i in range(wanted_k):
        docs.insert(i * step, ketamine[i % len(ketamine)])
    return [
        Article(id=f"bench:{i}", url=None, title=t, text=x, source="bench", feed_url="bench")
        for i, (t, x) in enumerate(docs)
    ]


def run_monitor(articles: list[Article], extractor: SentenceExtractor, classifier: ClaimClassifier) -> int:
    """As a pass does it: the prefilter, spaCy on what passes, classification in batches."""
    found = list(extractor.extract(articles))
    return sum(len(c) for c in classify_in_batches(found, classifier))


def run_everything(articles: list[Article], extractor: SentenceExtractor, classifier: ClaimClassifier) -> int:
    """No prefilter: every text goes through spaCy, then the same selection and classification."""
    docs = extractor.nlp.pipe((a.text for a in articles), batch_size=extractor.batch_size)
    found = []
    for article, doc in zip(articles, docs, strict=True):
        title = title_sentence(article)
        sentences = ([title] if title else []) + list(candidates(doc, article.id, is_about_ketamine(article)))
        found.append((article, sentences))
    return sum(len(c) for c in classify_in_batches(found, classifier))


def classify_in_batches(found: list, classifier: ClaimClassifier) -> list:
    claims = []
    for start in range(0, len(found), BATCH):
        claims += classify_batch(found[start : start + BATCH], classifier, 0.5)
    return claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    articles = build_corpus(args.docs)
    mentioning = sum(mentions_ketamine(a.title + a.text) for a in articles)
    classifier = ClaimClassifier.load(default_models_dir())
    extractor = SentenceExtractor(build_nlp())
    run_monitor(articles[:50], extractor, classifier)  # warm up both paths once
    results: dict[str, list[float]] = {"monitor (prefilter)": [], "spaCy on every document": []}
    claims = {}
    peak_mb: int | None = None
    for _ in range(args.repeats):
        for name, function in (
            ("monitor (prefilter)", run_monitor),
            ("spaCy on every document", run_everything),
        ):
            started = time.perf_counter()
            claims[name] = function(articles, extractor, classifier)
            results[name].append(len(articles) / (time.perf_counter() - started))
            if peak_mb is None:  # before the baseline has run: the monitor's own peak
                peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"corpus: {len(articles)} documents, {mentioning} mention ketamine "
        f"({mentioning / len(articles):.1%}), "
        f"median {statistics.median(len(a.text) for a in articles):.0f} chars"
    )
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"median of {args.repeats} runs"
    )
    for name, rates in results.items():
        print(f"  {name:<26} {statistics.median(rates):8.0f} docs/s   ({claims[name]} claims)")
    ratio = statistics.median(results["monitor (prefilter)"]) / statistics.median(
        results["spaCy on every document"]
    )
    print(f"  speed-up: {ratio:.1f}x (same claims: {len(set(claims.values())) == 1})")
    print(f"  peak resident memory of the monitor's run (corpus and models included): {peak_mb} MB")
    if args.json:
        figures = {
            "docs_per_s": statistics.median(results["monitor (prefilter)"]),
            "baseline_docs_per_s": statistics.median(results["spaCy on every document"]),
            "peak_mb": peak_mb,
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
