"""The claims as an Atom feed: `monitor export --format atom` and `monitor serve`'s .atom URL,
read back with feedparser as a feed reader would."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.storage.store import Store
from tests.helpers import store_claim


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("atom") / "claims.db"
    with Store(path) as store:
        store_claim(
            store, 1, "Ketamine raised blood pressure in 9% of sessions.", "safety", published="2026-11-20"
        )
        store_claim(
            store,
            2,
            "Esketamine <script>alert(1)</script> & dissociation\x0b faded within 2 hours.",
            "safety",
            title='Spray & monitoring: "two hours" <b>rule</b>',
            source="Ledger & Co",
            published="2026-11-21",
            tier="regulator",
        )
        store_claim(store, 3, "Infusions cost $450 each.", "cost", url="javascript:alert(1)")
        store_claim(
            store, 4, "Ketamine lifted mood within a day.", "efficacy", stored_at="2026-11-22T08:00:00+00:00"
        )
    return path


def export(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_atom_export_has_one_entry_per_exported_claim(db: Path) -> None:
    for filters in (["--category", "safety"], [], ["--evidence-tier", "regulator"]):
        lines = export(db, *filters, "--format", "jsonl").splitlines()
        feed = feedparser.parse(export(db, *filters, "--format", "atom").encode("utf-8"))
        assert not feed.bozo, feed.get("bozo_exception")
        assert len(feed.entries) == len(lines)
        claims = {json.loads(line)["claim_id"]: json.loads(line) for line in lines}
        for entry in feed.entries:
            claim = claims[entry.id.rpartition(":")[2]]
            assert entry.title.startswith(claim["category"].capitalize() + ": ")
            if claim["article_url"].startswith("http"):
                assert entry.link == claim["article_url"]
            assert "<script" not in entry.content[0].value
            assert entry.author == claim["source"]


def test_entries_are_stable_and_text_is_escaped(db: Path) -> None:
    first = export(db, "--format", "atom", "--category", "safety")
    assert first == export(db, "--format", "atom", "--category", "safety")
    feed = feedparser.parse(first.encode("utf-8"))
    assert feed.feed.id == "urn:ketamine-monitor:claims?category=safety"
    awkward = next(e for e in feed.entries if "Esketamine" in e.summary)
    assert awkward.summary == "Esketamine <script>alert(1)</script> & dissociation faded within 2 hours."
    assert "&lt;script&gt;" in awkward.content[0].value and "Ledger &amp; Co" in awkward.content[0].value
    cost = feedparser.parse(export(db, "--format", "atom", "--category", "cost").encode("utf-8"))
    assert "javascript" not in json.dumps(cost.entries[0].get("links", []))


def test_serve_offers_the_same_entries_as_a_feed(db: Path) -> None:
    datasette_app = pytest.importorskip("datasette.app")
    from monitor.delivery.web import metadata, register_plugin

    async def fetch(url: str) -> tuple[int, str]:
        register_plugin()
        ds = datasette_app.Datasette([str(db)], metadata=metadata(db.stem))
        await ds.invoke_startup()
        response = await ds.client.get(url)
        return response.status_code, response.text

    status, text = asyncio.run(fetch("/claims/claims_feed.atom?category=safety"))
    assert status == 200, text
    served = feedparser.parse(text.encode("utf-8"))
    exported = feedparser.parse(export(db, "--format", "atom", "--category", "safety").encode("utf-8"))
    assert sorted(e.id for e in served.entries) == sorted(e.id for e in exported.entries)
    assert {e.link for e in served.entries} == {e.link for e in exported.entries}
    _, everything = asyncio.run(fetch("/claims/claims_feed.atom?q=infusions"))
    assert [e.title for e in feedparser.parse(everything.encode("utf-8")).entries] == [
        "Cost: Infusions cost $450 each."
    ]
