"""One pass over the feeds: fetch, parse, extract, classify, store.

Everything it works with is passed in (fetcher, extractor, classifier, store), so
tests hand it small real objects or fakes and nothing needs patching.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from monitor.config import Settings, read_feeds
from monitor.errors import ConfigError, FeedError
from monitor.ingest.fetch import HttpFetcher
from monitor.ingest.pages import PageFetcher, PageReader, read_pages, wanted_by
from monitor.ingest.parse import parse_feed
from monitor.language.attributes import describe
from monitor.language.lexicon import is_methods_section, ketamine_form
from monitor.records import (
    CATEGORIES,
    Article,
    Claim,
    FeedReport,
    FeedSource,
    FeedState,
    FetchResult,
    Page,
    ParsedFeed,
    Prediction,
    RunSummary,
    Sentence,
)
from monitor.storage.lock import PassLock
from monitor.storage.store import Store

if TYPE_CHECKING:  # spaCy and scikit-learn load in seconds: only when a pass needs them
    from monitor.language.classify import ClaimClassifier
    from monitor.language.extract import SentenceExtractor


class Fetcher(Protocol):
    def fetch_all(
        self, sources: Iterable[FeedSource], states: Mapping[str, FeedState]
    ) -> Iterator[FetchResult]: ...


class Extractor(Protocol):
    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]: ...


class Classifier(Protocol):
    version: str

    def claim_probability(self, items: Sequence[Sentence | str]) -> list[float]: ...

    def categorise(self, items: Sequence[Sentence | str]) -> list[Prediction]: ...


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
    warm_up: Callable[[], None] | None = None,
    parse_pool: Executor | None = None,
    page_fetcher: PageFetcher | None = None,
    full_text: str = "auto",
    page_attempts: int = 3,
) -> RunSummary:
    """Fetch every feed and store what is new. One bad feed never stops the others.

    When `cancel` is set, the pass stops between articles: what is stored is whole, and no
    feed's ETag is updated, so the next pass fetches everything that was not processed.

    Feeds are fetched concurrently and parsed as they arrive; then articles are merged across
    feeds (the same article in two feeds is stored once, from the feed that carries its fullest
    text, with every feed recorded) and extracted in feeds.txt order, so a pass gives the same
    result whichever feed answered first.

    With a `page_fetcher`, new items that want their page (`full_text`, or the feed's own
    full_text= option: monitor.ingest.pages) are read from it, and pages that failed on earlier passes
    are tried again (`page_attempts` in all); without one, the feeds' text is all there is.
    """
    started = datetime.now(UTC)
    run_id = store.start_run(started)
    position = {source.url: i for i, source in enumerate(sources)}
    states = store.feed_states()
    reading = PageReader(page_fetcher, parse_pool) if page_fetcher else contextlib.nullcontext()
    with reading as reader:
        retry = store.pages_to_retry(page_attempts) if reader else []
        again = {article.id for article in retry}
        wanted = wanted_by({s.url: s.full_text for s in sources if s.full_text}, full_text)

        def want(article: Article) -> bool:
            return article.id in again or wanted(article)

        for article in retry:
            reader.read(article)  # type: ignore[union-attr]
        parsing: list[tuple[FetchResult, Future[tuple[ParsedFeed | None, str | None]]]] = []
        asked = 0  # parsed feeds whose new items have asked for their pages

        def ask_for_pages(block: bool) -> None:
            """Start the pages of the items in the feeds parsed so far (in order, as they finish),
            so pages are fetched while other feeds are still being fetched and parsed."""
            nonlocal asked
            while asked < len(parsing) and (block or parsing[asked][1].done()):
                parsed, _ = parsing[asked][1].result()
                asked += 1
                if reader is None or parsed is None:
                    continue
                articles = [a for a in parsed.articles if want(a)]
                known = store.known_articles(a.id for a in articles)
                for article in articles:
                    if article.id not in known:
                        reader.read(article)

        for result in fetcher.fetch_all(sources, states):
            if result.content and warm_up is not None:
                # New content is coming: load the models now, while the other feeds arrive.
                warm_up()
                warm_up = None
            # Only bytes go to the pool: a pass of 304s never starts a parser process.
            pool = parse_pool if parse_pool is not None and result.content else _INLINE
            parsing.append((result, pool.submit(_parse, result)))
            ask_for_pages(block=False)
            if on_progress:
                on_progress("feeds", len(parsing), len(sources))
        ask_for_pages(block=True)
        fetched = [(result, *future.result()) for result, future in parsing]
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
        if reader is not None:
            fresh, retry = reader.attach(fresh, want), reader.attach(retry, want)
    pages = Counter(a.page.status for a in fresh + retry if a.page is not None)

    stored: Counter[str] = Counter()
    stored_ids: list[str] = []
    new_claims: Counter[str] = Counter()
    cancelled = False
    done = 0
    for batch in _batches(extractor.extract(fresh) if fresh else iter(()), BATCH):
        # One classifier call per batch: scikit-learn's per-call overhead dwarfs one sentence.
        predicted = classify_batch(batch, classifier, claim_threshold, uncertain_below)
        with store.batch():
            for (article, _), claims in zip(batch, predicted, strict=True):
                done += 1
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                same = store.same_story(article)
                if same is not None:  # already stored under another link (a redirect, tracking, a mirror)
                    for feed_url in carriers[article.id]:
                        store.link_feed(same, feed_url)
                    continue
                if store.save_article(article, claims):
                    stored[article.feed_url] += 1
                    stored_ids.append(article.id)
                    new_claims.update(c.category for c in claims)
                for feed_url in carriers[article.id]:
                    if feed_url != article.feed_url:
                        store.link_feed(article.id, feed_url)
                if on_progress:
                    on_progress("articles", done, len(fresh))
        if cancelled:
            break
    if retry and not cancelled:
        added = _store_retried_pages(retry, extractor, classifier, store, claim_threshold, uncertain_below)
        new_claims.update(c.category for c in added)
    # Which study each new article reports; a new paper also finds the stories that came first.
    store.link_studies(stored_ids + [a.id for a in retry if a.page is not None and a.page.ok])

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
        pages=dict(sorted(pages.items())),
    )
    store.finish_run(summary)
    return summary


def _store_retried_pages(
    articles: Sequence[Article],
    extractor: Extractor,
    classifier: Classifier,
    store: Store,
    threshold: float,
    uncertain_below: float,
) -> list[Claim]:
    """Pages tried again for articles stored from their summary: record the attempt and add
    the claims of a page that was read this time (its headline's claims are already stored)."""
    readable = [a for a in articles if a.page is not None and a.page.ok]
    claims_of: dict[str, list[Claim]] = {}
    for batch in _batches(extractor.extract(readable) if readable else iter(()), BATCH):
        batch = [(article, [s for s in sentences if s.unit == "page"]) for article, sentences in batch]
        for (article, _), claims in zip(
            batch, classify_batch(batch, classifier, threshold, uncertain_below), strict=True
        ):
            claims_of[article.id] = claims
    added: list[Claim] = []
    for article in articles:
        if article.page is not None:
            added += store.save_page(article.id, article.page, claims_of.get(article.id, []))
    return added


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


BATCH = 256  # articles classified together


class _Inline(Executor):
    """Parses in the calling thread: the default, and what tests use."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)
        return future


_INLINE = _Inline()


def _batches(
    items: Iterator[tuple[Article, list[Sentence]]], size: int
) -> Iterator[list[tuple[Article, list[Sentence]]]]:
    batch: list[tuple[Article, list[Sentence]]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_sentences(
    article: Article,
    sentences: Sequence[Sentence],
    classifier: Classifier,
    threshold: float,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> list[Claim]:
    """The claims among one article's candidate sentences."""
    return classify_batch([(article, list(sentences))], classifier, threshold, uncertain_below)[0]


def classify_batch(
    batch: Sequence[tuple[Article, list[Sentence]]],
    classifier: Classifier,
    threshold: float,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> list[list[Claim]]:
    """Keep the sentences the detector calls claims; give each its category and attributes.
    Methods, objectives and outcome definitions describe what was done, not what was found.
    (Claims about ketamine outside depression, in anaesthesia or pain, are claims like any
    other: the labelling convention counts them, and an editor can filter by article.)"""
    owners = [
        (i, s)
        for i, (_, sentences) in enumerate(batch)
        for s in sentences
        if not is_methods_section(s.section)
    ]
    claim_scores = classifier.claim_probability([s for _, s in owners])
    kept = [(i, s, p) for (i, s), p in zip(owners, claim_scores, strict=True) if p >= threshold]
    predictions = classifier.categorise([s for _, s, _ in kept])
    claims: list[list[Claim]] = [[] for _ in batch]
    for (i, sentence, score), prediction in zip(kept, predictions, strict=True):
        article = batch[i][0]
        claims[i].append(
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
                    context=f"{article.title}\n{article.body[:1500]}",
                    form=ketamine_form(sentence.text, article.title),
                    polarity=prediction.polarity,
                ),
                secondary=prediction.secondary,
                uncertain=prediction.confidence < uncertain_below,
            )
        )
    return claims


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

    def load_in_background(self) -> None:
        """Start loading spaCy and the classifier on another thread (about three seconds of
        work that would otherwise wait until every feed is parsed)."""

        def load() -> None:
            _ = self.classifier, self.extractor

        if "classifier" not in self.__dict__:
            threading.Thread(target=load, name="load-models", daemon=True).start()

    def _parsers(self) -> int:
        """Parser processes for a pass: one per core (up to four). One fewer while the models
        loaded paid when loading took two seconds of a core; now that it takes a quarter of one
        (compiled models), two parsers win on 2 cores (polling benchmark, without pages:
        `monitor once` 8.1 s with one parser, 6.9 s with two)."""
        return min(4, os.cpu_count() or 1)

    # Loaded on first use: a pass that cannot start (no feeds, lock held) says so at once.
    @functools.cached_property
    def classifier(self) -> ClaimClassifier:
        from monitor.language.classify import ClaimClassifier

        return ClaimClassifier.load(self.settings.models_dir)

    @functools.cached_property
    def extractor(self) -> SentenceExtractor:
        from monitor.language.extract import SentenceExtractor, build_nlp

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
            # feedparser is pure Python: parsing in other processes frees this one to load models.
            # Spawned, not forked: forking while the model-loading thread imports could deadlock.
            ProcessPoolExecutor(
                max_workers=self._parsers(),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            ) as parse_pool,
        ):
            return run_once(
                sources,
                fetcher=fetcher,
                extractor=_OnDemand(self),
                classifier=_OnDemand(self),
                warm_up=self.load_in_background,
                parse_pool=parse_pool,
                store=store,
                claim_threshold=self.settings.claim_threshold,
                uncertain_below=self.settings.uncertain_below,
                on_progress=on_progress,
                cancel=cancel,
                backoff_cap=timedelta(hours=self.settings.backoff_cap_hours),
                page_fetcher=fetcher,
                full_text=self.settings.full_text,
                page_attempts=self.settings.page_attempts,
            )


def _exit_with_parent(parent: int) -> None:
    """Runs in each parser process: end it when the pass's process is gone. A pass killed
    outright (kill -9, the OOM killer) cannot shut its pool down, and its parsers would wait
    forever on a queue their siblings keep open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class _OnDemand:
    """The monitor's extractor and classifier, loaded only when a pass has an article to read:
    a pass where every feed answers 304 never waits for spaCy or scikit-learn."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    @property
    def version(self) -> str:
        return self.monitor.classifier.version

    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]:
        return self.monitor.extractor.extract(articles)

    def claim_probability(self, items: Sequence[Sentence | str]) -> list[float]:
        return self.monitor.classifier.claim_probability(items) if items else []

    def categorise(self, items: Sequence[Sentence | str]) -> list[Prediction]:
        return self.monitor.classifier.categorise(items) if items else []


def read_configured(
    urls: Sequence[str], settings: Settings, with_claims: bool = False
) -> list[tuple[Page, list[Claim]]]:
    """What `monitor article` does: fetch and read each page as a pass would; with_claims, the
    claims the monitor would store from it (as an item from a feed with no text of its own)."""
    with HttpFetcher(settings) as fetcher:
        pages = read_pages(urls, fetcher)
    if not with_claims or not any(page.ok for page in pages):
        return [(page, []) for page in pages]
    monitor = Monitor(Path(), Path(), settings)
    articles = [page_article(page) for page in pages]
    extracted = list(monitor.extractor.extract(articles))
    claims = classify_batch(extracted, monitor.classifier, settings.claim_threshold, settings.uncertain_below)
    return list(zip(pages, claims, strict=True))


def page_article(page: Page) -> Article:
    """A page read on its own, as an article with no feed text."""
    url = page.final_url or page.url
    return Article(
        id=f"url:{url}", url=url, title=page.title or "", text="", source=urlsplit(url).netloc,
        feed_url="", published=page.published, page=page,
    )  # fmt: skip


def run_configured(
    feeds_path: Path,
    db_path: Path,
    settings: Settings,
    on_progress: OnProgress | None = None,
    wait: float = 0.0,
) -> RunSummary:
    """One pass with the real parts: what `monitor once` does."""
    return Monitor(feeds_path, db_path, settings).run_pass(on_progress, wait)
