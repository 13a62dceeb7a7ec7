"""The Datasette view, through Datasette's in-process client: metadata, facets, search, canned
queries, and no way to write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

datasette_app = pytest.importorskip("datasette.app")

from monitor.delivery.web import QUERIES, metadata, register_plugin  # noqa: E402
from monitor.records import Money  # noqa: E402
from monitor.storage.migrations import ISO_WEEK_SQL  # noqa: E402
from monitor.storage.store import Store  # noqa: E402
from tests.test_search import put  # noqa: E402


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "claims.db"
    with Store(path) as store:
        put(store, 1, "Ketamine caused bladder damage in heavy users.", published="2026-11-20")
        put(
            store,
            2,
            "Ketamine caused bladder damage in heavy users.",
            source="Other Outlet",
            published="2026-11-21",
        )
        put(store, 3, "Spravato costs insurers a great deal.", "cost", published="2026-11-22")
        put(store, 6, "Esketamine relieved symptoms within hours.", "efficacy", published="2026-11-24")
        put(store, 4, "Relapse came after three weeks.", "duration", published="2025-01-01")
        put(
            store,
            5,
            "Infusions cost $450 each.",
            "cost",
            published="2026-11-23",
            amounts=(Money(450.0, "USD"),),
        )
    return path


def get(db: Path, url: str) -> tuple[int, object]:
    async def fetch() -> tuple[int, object]:
        register_plugin()  # as monitor serve does
        ds = datasette_app.Datasette([str(db)], metadata=metadata(db.stem))
        await ds.invoke_startup()
        response = await ds.client.get(url)
        if response.status_code == 200 and ".json" in url:
            return response.status_code, response.json()
        return response.status_code, response.text

    return asyncio.run(fetch())


def test_canned_queries_answer(db: Path) -> None:
    status, weeks = get(db, "/claims/claims_per_category_per_week.json?_shape=array")
    assert status == 200 and sum(row["claims"] for row in weeks) == 6
    _, safety = get(db, "/claims/safety_last_30_days.json?_shape=array")
    assert isinstance(safety, list)  # dated by the article; relative to today
    _, costs = get(db, "/claims/cost_claims_with_amounts.json?_shape=array")
    assert [(row["amount"], row["currency"]) for row in costs] == [(450.0, "USD")]
    _, several = get(db, "/claims/claims_reported_by_several_outlets.json?_shape=array")
    assert [(row["text"], row["outlets"]) for row in several] == [
        ("Ketamine caused bladder damage in heavy users.", 2)
    ]
    assert set(QUERIES) <= set(metadata("claims")["databases"]["claims"]["queries"])


def test_browser_has_facets_search_and_descriptions(db: Path) -> None:
    status, page = get(db, "/claims/claim_browser.json?_search=bladder&_facet=category&_facet=evidence_tier")
    assert status == 200
    assert len(page["rows"]) == 2
    assert {f for f in page["facet_results"]} >= {"category", "evidence_tier"}
    status, html = get(db, "/claims/claim_browser?_search=bladder")
    assert status == 200 and "Every claim with its article" in str(html) and "bladder" in str(html)
    _, row = get(db, "/claims/claims.json?_shape=array&category=cost")
    assert len(row) == 2


def test_writes_are_impossible(db: Path) -> None:
    status, body = get(db, "/claims.json?sql=DELETE+FROM+claims")
    assert status == 400 and "Statement must be a SELECT" in str(body)
    with Store(db, readonly=True) as store:
        assert store.counts()["claims"] == 6


def test_table_search_reads_queries_as_monitor_search_does(db: Path) -> None:
    """The browser's search box: same index (sentence and title, stemmed), same ketamine forms."""
    _, page = get(db, "/claims/claim_browser.json?_search=ketamine&_shape=array")
    found = {row["text"] for row in page}
    assert "Esketamine relieved symptoms within hours." in found
    assert "Spravato costs insurers a great deal." in found
    assert "Relapse came after three weeks." not in found
    _, page = get(db, "/claims/claim_browser.json?_search=relapsing&_shape=array")
    assert [row["text"] for row in page] == ["Relapse came after three weeks."]  # stemmed
    status, page = get(db, "/claims/claim_browser.json?_search=%22unbalanced+AND+(&_shape=array")
    assert status == 200 and page == []  # anything typed is just text


def test_canned_search_ranks_like_monitor_search(db: Path, tmp_path: Path) -> None:
    from monitor.storage.store import Store as ClaimStore

    _, rows = get(db, "/claims/search.json?q=ketamine&_shape=array")
    with ClaimStore(db, readonly=True) as store:
        expected = [claim.claim_id for claim in store.search("ketamine")]
    assert [row["claim_id"] for row in rows] == expected and len(expected) == 4
    assert any(row["text"].startswith("[Esketamine]") for row in rows)
    status, rows = get(db, "/claims/search.json?q=%28%29&_shape=array")
    assert status == 200 and rows == []  # no words, no matches, no error


def test_week_is_the_iso_week_the_digest_uses(db: Path) -> None:
    import sqlite3
    from datetime import date, datetime, timedelta

    _, page = get(db, "/claims/claim_browser.json?_facet=week&_shape=objects")
    for row in page["rows"]:
        year, week, _ = datetime.fromisoformat(row["extracted_at"]).isocalendar()
        assert row["week"] == f"{year}-W{week:02d}"
    assert [f["value"] for f in page["facet_results"]["week"]["results"]] == [page["rows"][0]["week"]]
    conn = sqlite3.connect(":memory:")
    day = date(2019, 12, 20)
    for _ in range(3 * 366):  # year ends, 53-week years, leap days
        stamp = f"{day.isoformat()}T23:59:59+00:00"
        year, week, _ = day.isocalendar()
        (label,) = conn.execute(f"SELECT {ISO_WEEK_SQL.format(ts=':ts')}", {"ts": stamp}).fetchone()
        assert label == f"{year}-W{week:02d}", stamp
        day += timedelta(days=1)
