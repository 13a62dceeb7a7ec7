from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.pipeline import claim_id
from monitor.records import Article, Claim, ClaimFilter, FeedSource, FetchResult, Sentence
from monitor.storage.migrations import MIGRATIONS
from monitor.storage.store import Store, fts_query


def make_article(n: int = 1, feed: str = "https://feeds.example.org/a") -> Article:
    return Article(
        id=f"url:https://news.example.org/{n}",
        url=f"https://news.example.org/{n}?utm_source=rss",
        title=f"Ketamine story {n}",
        text="Ketamine infusions reduced treatment-resistant depression scores (p < .05).",
        source="Example News",
        feed_url=feed,
        published=datetime(2026, 11, 20, tzinfo=UTC),
    )


def make_claim(article: Article, category: str = "efficacy") -> Claim:
    sentence = Sentence(article.id, article.text, "text", 0, len(article.text), ("Ketamine",))
    return Claim(claim_id(sentence), sentence, category, 0.9, 0.8, "v1", {category: 0.9})


def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        assert store.migrate() == []
    with Store(tmp_path / "m.db") as store:
        assert store.migrate() == []
        schema = store.db["claims"].schema
    assert "-- the sentence as it stands in the article" in schema


def test_article_and_claims_round_trip(tmp_path: Path) -> None:
    article = make_article()
    with Store(tmp_path / "s.db") as store:
        assert store.save_article(article, [make_claim(article)])
        assert not store.save_article(article, [make_claim(article)])  # second time: nothing
        (claim,) = list(store.iter_claims())
        assert store.counts() == {"feeds": 1, "articles": 1, "claims": 1, "runs": 0}
    assert claim.article_title == "Ketamine story 1"
    assert claim.published == "2026-11-20T00:00:00+00:00"
    assert claim.feed_urls == ("https://feeds.example.org/a",)
    assert claim.mentions == ("Ketamine",)


def test_an_article_failing_mid_write_leaves_nothing_behind(tmp_path: Path) -> None:
    article = make_article()
    good = make_claim(article)
    broken = Claim("x", good.sentence, "efficacy", float("nan"), 0.5, "v1", {})  # NOT NULL confidence
    with Store(tmp_path / "t.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            store.save_article(article, [good, broken])
        assert store.counts()["articles"] == 0 and store.counts()["claims"] == 0


def test_second_feed_is_linked_not_duplicated(tmp_path: Path) -> None:
    article = make_article()
    with Store(tmp_path / "l.db") as store:
        store.save_article(article, [make_claim(article)])
        store.link_feed(article.id, "https://feeds.example.org/b")
        store.link_feed(article.id, "https://feeds.example.org/b")
        (claim,) = list(store.iter_claims())
    assert sorted(claim.feed_urls) == ["https://feeds.example.org/a", "https://feeds.example.org/b"]


def test_fetch_state_is_remembered_for_conditional_get(tmp_path: Path) -> None:
    source = FeedSource("https://feeds.example.org/a")
    ok = FetchResult(
        source, status=200, content=b"", etag='"e"', last_modified="Tue, 17 Nov 2026 09:00:00 GMT"
    )
    with Store(tmp_path / "f.db") as store:
        store.record_fetch(ok, None, None)
        store.record_fetch(FetchResult(source, status=500, error="HTTP 500"), None, "HTTP 500")
        store.record_fetch(FetchResult(source, status=503, error="HTTP 503"), None, "HTTP 503")
        state = store.feed_states()[source.url]
        row = store.db["feeds"].get(source.url)
    assert (state.etag, state.last_modified) == ('"e"', "Tue, 17 Nov 2026 09:00:00 GMT")
    assert row["consecutive_failures"] == 2 and row["last_error"] == "HTTP 503"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bladder", '"bladder"'),
        ("treatment-resistant", '"treatment resistant"'),
        ("p < .05", '"p" AND "05"'),
        ('"nasal spray" ECT', '"nasal spray" AND "ECT"'),
        ("“nasal spray”", '"nasal spray"'),
        ("dissociat*", '("disso" OR "dissoc" OR "dissoci" OR "dissocia" OR "dissociat"*)'),
        ("happy*", '("happ" OR "happy"*)'),  # FTS5 stems "happy"* to "happi"* itself
        ("ect*", '"ect"*'),
        (
            "ketamine AND OR NOT (",
            '("ketamine" OR "esketamine" OR "arketamine" OR "spravato" OR "ketalar" '
            'OR "ketanest") AND "AND" AND "OR" AND "NOT"',
        ),
        ('unbalanced "quote', '"unbalanced" AND "quote"'),
    ],
)
def test_user_text_becomes_a_safe_fts_query(query: str, expected: str) -> None:
    assert fts_query(query) == expected


@pytest.mark.parametrize("query", ["", "   ", "()", '"', "*", "-- ;"])
def test_queries_with_no_words_mean_filters_only(query: str) -> None:
    assert fts_query(query) is None


def test_search_ranks_highlights_and_filters(tmp_path: Path) -> None:
    with Store(tmp_path / "q.db") as store:
        for n, (text, category) in enumerate(
            [
                ("Ketamine caused bladder damage in heavy users.", "safety"),
                ("Esketamine relapse rates fell; bladder problems were rare.", "duration"),
                ("Ketamine infusions cost $500.", "cost"),
            ]
        ):
            article = make_article(n)
            sentence = Sentence(article.id, text, "title", 0, len(text), ("Ketamine",))
            store.save_article(article, [Claim(claim_id(sentence), sentence, category, 0.9, 0.9, "v", {})])
        hits = store.search("bladder")
        safety_only = store.search("bladder", ClaimFilter(categories=("safety",)))
        hostile = store.search('treatment-resistant "p < .05 (AND')
    assert {h.category for h in hits} == {"safety", "duration"}
    assert "[bladder]" in (hits[0].highlighted or "")
    assert hits[0].rank is not None and hits[0].rank <= hits[-1].rank
    assert [h.category for h in safety_only] == ["safety"]
    assert hostile == []


def test_unusable_database_files_are_store_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Store(junk)
    with pytest.raises(StoreError, match="no such database"):
        Store(tmp_path / "absent.db", readonly=True)


def test_a_locked_database_is_reported_not_raised_raw(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with Store(path, busy_timeout=0.1) as store:
        blocker = sqlite3.connect(path)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError, match="locked by another process"):
                store.save_article(make_article(), [])
        finally:
            blocker.rollback()
            blocker.close()


def test_two_processes_opening_a_new_database_at_once_both_succeed(tmp_path: Path) -> None:
    """The service and a `monitor status` may both create the schema: one waits for the other."""
    import threading

    path, errors = tmp_path / "race.db", []

    def open_it() -> None:
        try:
            Store(path).close()
        except Exception as exc:  # collected, then asserted empty
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
