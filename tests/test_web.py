"""The Datasette view, through Datasette's in-process client: metadata, facets, search, canned
queries, and no way to write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

datasette_app = pytest.importorskip("datasette.app")

from monitor.records import Money  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web import QUERIES, metadata  # noqa: E402
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
        ds = datasette_app.Datasette([str(db)], metadata=metadata(db.stem))
        await ds.invoke_startup()
        response = await ds.client.get(url)
        if response.status_code == 200 and ".json" in url:
            return response.status_code, response.json()
        return response.status_code, response.text

    return asyncio.run(fetch())


def test_canned_queries_answer(db: Path) -> None:
    status, weeks = get(db, "/claims/claims_per_category_per_week.json?_shape=array")
    assert status == 200 and sum(row["claims"] for row in weeks) == 5
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
        assert store.counts()["claims"] == 5
