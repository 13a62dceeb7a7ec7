"""feeds.txt management: add and remove keep comments, OPML round trip, check stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import cli
from monitor.config import read_feeds
from monitor.errors import ConfigError
from monitor.ingest.feeds import add_feed, export_opml, import_opml, remove_feed
from tests.conftest import EXAMPLES

SHARED_OPML = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds" / "netnewswire" / "Subs.opml"
)


def test_add_and_remove_keep_comments(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("# preprints\nhttps://a.example/rss  # note\n\n# news\nhttps://b.example/rss")
    add_feed(feeds, "https://c.example/atom", comment="a new one")
    with pytest.raises(ConfigError, match="already in"):
        add_feed(feeds, "https://a.example/rss")
    remove_feed(feeds, "https://a.example/rss")
    assert (
        feeds.read_text()
        == "# preprints\n\n# news\nhttps://b.example/rss\n# a new one\nhttps://c.example/atom\n"
    )
    with pytest.raises(ConfigError, match="is not in"):
        remove_feed(feeds, "https://a.example/rss")


def test_opml_round_trip(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("https://a.example/rss\n")
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x "expanded">]><opml version="2.0"><body>'
        '<outline text="Group"><outline text="A &amp; B" xmlUrl="https://b.example/rss"/>'
        '<outline text="dup" xmlUrl="https://a.example/rss"/><outline text="&x;" xmlUrl="ftp://no.example/"/>'
        "</outline></body></opml>"
    )
    added, present = import_opml(feeds, opml)
    assert (added, present) == (["https://b.example/rss"], ["https://a.example/rss"])
    assert [s.url for s in read_feeds(feeds)] == ["https://a.example/rss", "https://b.example/rss"]
    exported = tmp_path / "out.opml"
    exported.write_text(export_opml(feeds, tmp_path / "none.db"))
    again = tmp_path / "again.txt"
    assert import_opml(again, exported) == (["https://a.example/rss", "https://b.example/rss"], [])


@pytest.mark.skipif(not SHARED_OPML.exists(), reason="../shared/corpus is not here")
def test_a_real_feed_reader_export_imports(tmp_path: Path) -> None:
    added, _ = import_opml(tmp_path / "feeds.txt", SHARED_OPML)
    assert len(added) > 100 and len(read_feeds(tmp_path / "feeds.txt")) == len(added)


def test_check_reports_without_storing(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/news.xml").respond_with_data((EXAMPLES / "news.xml").read_bytes())
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(httpserver.url_for("/news.xml") + "\n" + httpserver.url_for("/gone") + "\n")
    result = CliRunner().invoke(cli, ["feeds", "check", "--feeds", str(feeds)])
    assert result.exit_code == 0
    assert "HTTP 200, rss20, 6 items, 4 about ketamine" in result.output
    assert "FAILED" in result.output and "HTTP 410" in result.output
    listing = CliRunner().invoke(
        cli, ["feeds", "list", "--feeds", str(feeds), "--db", str(tmp_path / "m.db")]
    )
    assert listing.output.count("not fetched yet") == 2
