"""The pipeline with small stand-ins for the network and the models: no patching."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from monitor.language.extract import SentenceExtractor
from monitor.pipeline import run_once
from monitor.records import FeedSource, FeedState, FetchResult, Prediction, Sentence
from monitor.storage.store import Store

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>
<link>https://news.example.org</link><description>d</description>
<item><title>Ketamine eased depression within hours</title>
<link>https://news.example.org/k?utm_source={title}</link>
<description>Ketamine infusions cost $500 each. Nobody mentions the weather.</description></item>
<item><title>Sertraline update</title><link>https://news.example.org/s</link>
<description>SSRIs take weeks.</description></item>
</channel></rss>"""


class FakeFetcher:
    def __init__(self, bodies: dict[str, bytes | None]) -> None:
        self.bodies = bodies
        self.states_seen: list[Mapping[str, FeedState]] = []

    def fetch_all(
        self, sources: Iterable[FeedSource], states: Mapping[str, FeedState]
    ) -> Iterator[FetchResult]:
        self.states_seen.append(dict(states))
        for source in sources:
            body = self.bodies[source.url]
            if body is None:
                yield FetchResult(source, status=503, error="HTTP 503 Service Unavailable")
            else:
                yield FetchResult(source, status=200, content=body, etag=f"etag-{source.url}")


class KeywordClassifier:
    """Claims are sentences with a digit or 'within'; cost if '$' else efficacy."""

    version = "fake-1"

    def claim_probability(self, items: Sequence[Sentence]) -> list[float]:
        return [0.9 if any(c.isdigit() for c in s.text) or "within" in s.text else 0.1 for s in items]

    def categorise(self, items: Sequence[Sentence]) -> list[Prediction]:
        out = []
        for t in (s.text for s in items):
            category = "cost" if "$" in t else "efficacy"
            out.append(Prediction(category, 0.8, {category: 0.8}, self.version))
        return out


def test_one_pass_stores_claims_dedups_across_feeds_and_survives_a_failure(
    tmp_path: Path, extractor: SentenceExtractor
) -> None:
    sources = [
        FeedSource("https://a.example/rss"),
        FeedSource("https://b.example/rss"),
        FeedSource("https://c.example/rss"),
    ]
    fetcher = FakeFetcher(
        {
            sources[0].url: RSS.format(title="A").encode(),
            sources[1].url: RSS.format(title="B").encode(),
            sources[2].url: None,
        }
    )
    with Store(tmp_path / "p.db") as store:
        first = run_once(
            sources, fetcher=fetcher, extractor=extractor, classifier=KeywordClassifier(), store=store
        )
        second = run_once(
            sources, fetcher=fetcher, extractor=extractor, classifier=KeywordClassifier(), store=store
        )
        claims = list(store.iter_claims())
        runs = list(store.db["runs"].rows)

    assert (first.feeds_ok, first.feeds_failed) == (2, 1)
    assert first.new_articles == 2  # ketamine story once (two feeds), sertraline once
    assert first.new_claims == {"efficacy": 1, "safety": 0, "duration": 0, "cost": 1}
    assert [(c.category, c.text) for c in claims] == [
        ("efficacy", "Ketamine eased depression within hours"),
        ("cost", "Ketamine infusions cost $500 each."),
    ]
    assert sorted(claims[0].feed_urls) == [sources[0].url, sources[1].url]
    assert second.new_articles == 0 and sum(second.new_claims.values()) == 0
    assert [f.error for f in second.feeds if not f.ok] == ["HTTP 503 Service Unavailable"]
    assert fetcher.states_seen[1][sources[0].url].etag == f"etag-{sources[0].url}"
    assert len(runs) == 2 and all(r["finished"] for r in runs)


SHORT = """<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title><link>https://t.example</link>
<description>d</description><item><title>Ketamine story</title><link>https://news.example.org/k?utm_source=x</link>
<description>Ketamine helped.</description></item></channel></rss>"""
FULL = """<?xml version="1.0"?><rss version="2.0"><channel><title>Full text</title><link>https://f.example</link>
<description>d</description><item><title>Ketamine story</title><link>https://news.example.org/k</link>
<description>Ketamine helped. Ketamine infusions cost $500 each. Relief lasted 2 weeks.</description></item>
</channel></rss>"""


class OrderedFetcher(FakeFetcher):
    """Answers in a given order, as a concurrent fetch might."""

    def __init__(self, bodies: dict[str, bytes | None], order: list[str]) -> None:
        super().__init__(bodies)
        self.order = order

    def fetch_all(
        self, sources: Iterable[FeedSource], states: Mapping[str, FeedState]
    ) -> Iterator[FetchResult]:
        by_url = {s.url: s for s in sources}
        return super().fetch_all([by_url[u] for u in self.order], states)


def test_a_pass_stores_the_fullest_version_whichever_feed_answers_first(
    tmp_path: Path, extractor: SentenceExtractor
) -> None:
    sources = [FeedSource("https://t.example/rss"), FeedSource("https://f.example/rss")]
    bodies = {sources[0].url: SHORT.encode(), sources[1].url: FULL.encode()}
    results = []
    for order in ([s.url for s in sources], [s.url for s in reversed(sources)]):
        progress: list[tuple[str, int, int]] = []
        with Store(tmp_path / f"{len(results)}.db") as store:
            summary = run_once(
                sources,
                fetcher=OrderedFetcher(bodies, order),
                extractor=extractor,
                classifier=KeywordClassifier(),
                store=store,
                on_progress=lambda *p, progress=progress: progress.append(p),
            )
            claims = list(store.iter_claims())
        results.append([(c.text, c.feed_url, sorted(c.feed_urls)) for c in claims])
        assert summary.new_articles == 1
        assert progress == [("feeds", 1, 2), ("feeds", 2, 2), ("articles", 1, 1)]
    assert results[0] == results[1]
    assert {text for text, _, _ in results[0]} >= {
        "Ketamine infusions cost $500 each.",
        "Relief lasted 2 weeks.",
    }
    assert all(feed == sources[1].url and urls == sorted(bodies) for _, feed, urls in results[0])
