"""One pass over the feeds: fetch, parse, extract, classify, store.

Everything it works with is passed in (fetcher, extractor, classifier, store), so
tests hand it small real objects or fakes and nothing needs patching.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from monitor.attributes import describe
from monitor.classify import ClaimClassifier
from monitor.config import Settings, read_feeds
from monitor.errors import ConfigError, FeedError
from monitor.extract import SentenceExtractor, build_nlp, is_methods_section, is_outside_depression
from monitor.fetch import HttpFetcher
from monitor.lexicon import ketamine_form
from monitor.lock import PassLock
from monitor.parse import parse_feed
from monitor.records import (
    CATEGORIES,
    Article,
    Claim,
    FeedReport,
    FeedSource,
    FeedState,
    FetchResult,
    ParsedFeed,
    Prediction,
    RunSummary,
    Sentence,
)
from monitor.store import Store


class Fetcher(Protocol):
    def fetch_all(
        self, sources: Iterable[FeedSource], states: Mapping[str, FeedState]
    ) -> Iterator[FetchResult]: ...


class Extractor(Protocol):
    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]: ...


class Classifier(Protocol):
    version: str

    def claim_probability(self, texts: Sequence[str]) -> list[float]: ...

    def categorise(self, texts: Sequence[str]) -> list[Prediction]: ...


# A category probability below this marks the claim uncertain: kept, but shown apart for review.
UNCERTAIN_BELOW = 0.6
# Progress: a stage ("feeds", then "articles"), how many done, how many in all.
OnProgress = Callable[[str, int, int], None]


def run_once(
    sources: Sequence[FeedSource],
    *,
    fetcher: Fetcher,
    extractor: Extractor,
    classifier: Classifier,
    store: Store,
    claim_threshold: float = 0.5,
    uncertain_below: float = UNCERTAIN_BELOW,
    on_progress: OnProgress | None = None,
    cancel: threading.Event | None = None,
    backoff_cap: timedelta = timedelta(hours=24),
) -> RunSummary:
    """Fetch every feed and store what is new. One bad feed never stops the others.

    When `cancel` is set, the pass stops between articles: what is stored is whole, and no
    feed's ETag is updated, so the next pass fetches everything that was not processed.

    Feeds are fetched concurrently and parsed as they arrive; then articles are merged across
    feeds (the same article in two feeds is stored once, from the feed that carries its fullest
    text, with every feed recorded) and extracted in feeds.txt order, so a pass gives the same
    result whichever feed answered first.
    """
    started = datetime.now(UTC)
    run_id = store.start_run(started)
    position = {source.url: i for i, source in enumerate(sources)}
    fetched: list[tuple[FetchResult, ParsedFeed | None, str | None]] = []
    states = store.feed_states()
    for result in fetcher.fetch_all(sources, states):
        fetched.append((result, *_parse(result)))
        if on_progress:
            on_progress("feeds", len(fetched), len(sources))
    fetched.sort(key=lambda item: position.get(item[0].source.url, len(position)))

    best: dict[str, Article] = {}
    carriers: dict[str, list[str]] = {}
    for _, parsed, _ in fetched:
        for article in parsed.articles if parsed else ():
            carriers.setdefault(article.id, []).append(article.feed_url)
            if article.id not in best or len(article.text) > len(best[article.id].text):
                best[article.id] = article
    known = store.known_articles(best)
    for article_id in known:
        for feed_url in carriers[article_id]:
            store.link_feed(article_id, feed_url)
    fresh = [article for article_id, article in best.items() if article_id not in known]

    stored: Counter[str] = Counter()
    new_claims: Counter[str] = Counter()
    cancelled = False
    for done, (article, sentences) in enumerate(extractor.extract(fresh), 1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        same = store.same_story(article)
        if same is not None:  # already stored under another link (a redirect, tracking, a mirror)
            for feed_url in carriers[article.id]:
                store.link_feed(same, feed_url)
            continue
        claims = classify_sentences(article, sentences, classifier, claim_threshold, uncertain_below)
        if store.save_article(article, claims):
            stored[article.feed_url] += 1
            new_claims.update(c.category for c in claims)
        for feed_url in carriers[article.id]:
            if feed_url != article.feed_url:
                store.link_feed(article.id, feed_url)
        if on_progress:
            on_progress("articles", done, len(fresh))

    reports = []
    for result, parsed, error in fetched:
        url = result.source.url
        if cancelled:
            error = error or "pass cancelled before this feed's articles were processed"
        else:
            store.record_fetch(
                result, parsed, error, _next_attempt(result, error, states.get(url), backoff_cap)
            )
        items = len(parsed.articles) if parsed else 0
        reports.append(
            FeedReport(
                url,
                error is None,
                result.status,
                result.not_modified,
                items,
                stored[url],
                error,
                result.skipped,
            )
        )
    summary = RunSummary(
        run_id=run_id,
        started=started,
        finished=datetime.now(UTC),
        feeds=tuple(sorted(reports, key=lambda r: r.url)),
        new_articles=sum(stored.values()),
        new_claims={c: new_claims.get(c, 0) for c in CATEGORIES},
    )
    store.finish_run(summary)
    return summary


BACKOFF_FIRST = timedelta(minutes=15)


def _next_attempt(
    result: FetchResult, error: str | None, state: FeedState | None, cap: timedelta
) -> str | None:
    """When to try a feed again: as the server asked (Retry-After), or after a failure
    15 min, 30 min, 1 h ... doubling up to the cap; a success clears it."""
    now = datetime.now(UTC)
    if result.retry_after is not None:
        wait = min(timedelta(seconds=result.retry_after), cap)
    elif error is not None:
        failures = (state.consecutive_failures if state else 0) + 1
        wait = min(BACKOFF_FIRST * 2 ** min(failures - 1, 16), cap)
    else:
        return None
    return (now + wait).isoformat(timespec="seconds")


def _parse(result: FetchResult) -> tuple[ParsedFeed | None, str | None]:
    """The parsed feed, or why there is none (fetch failed, 304, or not a feed)."""
    if not result.ok:
        return None, result.error
    if result.not_modified or result.skipped:
        return None, None
    try:
        return parse_feed(result), None
    except FeedError as exc:
        return None, exc.reason


def classify_sentences(
    article: Article,
    sentences: Sequence[Sentence],
    classifier: Classifier,
    threshold: float,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> list[Claim]:
    """Keep the sentences the detector calls claims; give each its category and attributes."""
    # Methods, objectives and outcome definitions describe what was done, not what was found.
    sentences = [s for s in sentences if not is_methods_section(s.section)]
    if not sentences:
        return []
    claim_scores = classifier.claim_probability([s.text for s in sentences])
    kept = [(s, p) for s, p in zip(sentences, claim_scores, strict=True) if p >= threshold]
    predictions = classifier.categorise([s.text for s, _ in kept])
    if is_outside_depression(article):
        # Ketamine in surgery, at a festival or in a seizure: only its safety is a claim for us.
        kept, predictions = _only_safety(kept, predictions)
    context = f"{article.title}\n{article.text[:1500]}"
    return [
        Claim(
            id=claim_id(sentence),
            sentence=sentence,
            category=prediction.category,
            confidence=prediction.confidence,
            claim_score=score,
            model_version=prediction.model_version,
            scores=prediction.scores,
            attributes=describe(
                sentence.text,
                context=context,
                form=ketamine_form(sentence.text, article.title),
                polarity_guess=prediction.polarity,
            ),
            secondary=prediction.secondary,
            uncertain=prediction.confidence < uncertain_below,
        )
        for (sentence, score), prediction in zip(kept, predictions, strict=True)
    ]


def _only_safety(
    kept: list[tuple[Sentence, float]], predictions: list[Prediction]
) -> tuple[list[tuple[Sentence, float]], list[Prediction]]:
    pairs = [(k, p) for k, p in zip(kept, predictions, strict=True) if p.category == "safety"]
    return [k for k, _ in pairs], [p for _, p in pairs]


def claim_id(sentence: Sentence) -> str:
    key = f"{sentence.article_id}|{sentence.unit}|{sentence.start}|{sentence.end}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class Monitor:
    """The real fetcher, spaCy pipeline and classifier, loaded once; each pass reads feeds.txt
    afresh (so edits take effect without a restart) and holds the pass lock."""

    def __init__(self, feeds_path: Path, db_path: Path, settings: Settings) -> None:
        self.feeds_path = feeds_path
        self.db_path = db_path
        self.settings = settings

    # Loaded on first use: a pass that cannot start (no feeds, lock held) says so at once.
    @functools.cached_property
    def classifier(self) -> ClaimClassifier:
        return ClaimClassifier.load(self.settings.models_dir)

    @functools.cached_property
    def extractor(self) -> SentenceExtractor:
        return SentenceExtractor(build_nlp(self.settings.spacy_model))

    def run_pass(
        self,
        on_progress: OnProgress | None = None,
        wait: float = 0.0,
        cancel: threading.Event | None = None,
    ) -> RunSummary:
        sources = read_feeds(self.feeds_path)
        if not sources:
            raise ConfigError(f"no feeds listed in {self.feeds_path}")
        with (
            PassLock(self.db_path, wait),
            Store(self.db_path) as store,
            HttpFetcher(self.settings) as fetcher,
        ):
            return run_once(
                sources,
                fetcher=fetcher,
                extractor=self.extractor,
                classifier=self.classifier,
                store=store,
                claim_threshold=self.settings.claim_threshold,
                uncertain_below=self.settings.uncertain_below,
                on_progress=on_progress,
                cancel=cancel,
                backoff_cap=timedelta(hours=self.settings.backoff_cap_hours),
            )


def run_configured(
    feeds_path: Path,
    db_path: Path,
    settings: Settings,
    on_progress: OnProgress | None = None,
    wait: float = 0.0,
) -> RunSummary:
    """One pass with the real parts: what `monitor once` does."""
    return Monitor(feeds_path, db_path, settings).run_pass(on_progress, wait)
