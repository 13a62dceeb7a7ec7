"""Reading the page behind a summary-only item: a real HTTP server on 127.0.0.1 serves a feed
and its article pages (a story wrapped in navigation, share buttons, a cookie banner, related
stories and comments; a page robots.txt refuses; a 404; a slow page; a 40 MB page; a paywall)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import html as lxml_html
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.cli import cli
from monitor.config import Settings, read_feeds
from monitor.delivery.digest import build_digest, week_of
from monitor.delivery.render import render_text
from monitor.ingest.feeds import add_feed, remove_feed
from monitor.ingest.fetch import HttpFetcher
from monitor.ingest.pages import read_page, wants_page
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import SentenceExtractor
from monitor.pipeline import run_once
from monitor.records import Article, FeedSource, PageFetch
from monitor.schedule import format_status, service_status
from monitor.storage.store import Store

from .conftest import EXAMPLES

STORY = (EXAMPLES / "pages" / "ketamine-clinic-relapse.html").read_bytes()
PAYWALL = (EXAMPLES / "pages" / "subscriber-only.html").read_bytes()
# What an editor should see of the story page: the paragraphs of its story body, nothing else.
BODY = [
    " ".join(p.text_content().split())
    for p in lxml_html.fromstring(STORY).xpath("//div[@class='story-body']/p")
]
BOILERPLATE = ("RiverRat", "nonsense", "insurance paid for all", "value your privacy", "Flu shot clinics",
               "Share on", "Health Check newsletter", "All rights reserved")  # fmt: skip

ITEMS = {
    "/story": ("Months after ketamine, many need another round", "A follow-up of ketamine patients."),
    "/private/story": ("Ketamine clinic records reviewed", "A look at ketamine clinic records."),
    "/missing": ("Ketamine bill advances in statehouse", "Lawmakers moved a ketamine bill."),
    "/slow": ("Ketamine trial for teens opens", "A ketamine trial opens."),
    "/huge": ("Ketamine and the brain, explained", "What ketamine does."),
    "/paywall": ("Inside the race to make a ketamine pill", "Drugmakers bet on an oral ketamine."),
    "/flu": ("Flu clinics open", "Walk-in flu shots."),
}


def feed_xml(base: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
        f"<description>{summary}</description></item>"
        for path, (title, summary) in ITEMS.items()
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Roundup</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def slow_page(request: Request) -> Response:
    time.sleep(1.5)
    return Response(STORY, content_type="text/html")


@pytest.fixture
def site(threaded_httpserver: HTTPServer) -> HTTPServer:
    server = threaded_httpserver
    base = server.url_for("").rstrip("/")
    server.expect_request("/feed.xml").respond_with_data(feed_xml(base), content_type="application/rss+xml")
    server.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    server.expect_request("/story").respond_with_data(STORY, content_type="text/html; charset=utf-8")
    server.expect_request("/private/story").respond_with_data(STORY, content_type="text/html")
    server.expect_request("/missing").respond_with_data("not here", status=404)
    server.expect_request("/slow").respond_with_handler(slow_page)
    server.expect_request("/huge").respond_with_data(b"<p>" + b"x" * 40_000_000, content_type="text/html")
    server.expect_request("/paywall").respond_with_data(PAYWALL, content_type="text/html")
    return server


def a_pass(server: HTTPServer, db: Path, extractor: SentenceExtractor, classifier: ClaimClassifier) -> None:
    settings = Settings(timeout=1.0, max_seconds=5.0, host_delay=0, max_bytes=10_000_000)
    with Store(db) as store, HttpFetcher(settings) as fetcher:
        summary = run_once(
            [FeedSource(server.url_for("/feed.xml"))],
            fetcher=fetcher,
            page_fetcher=fetcher,
            extractor=extractor,
            classifier=classifier,
            store=store,
        )
    assert summary.feeds_ok == 1


def page_rows(db: Path) -> dict[str, tuple]:
    with Store(db) as store:
        rows = store.db.execute("SELECT url, page_status, page_reason, page_text, text FROM articles")
        return {url.split("/", 3)[3]: tuple(rest) for url, *rest in rows}


def claims_of(db: Path, path: str) -> list[tuple[str, str]]:
    with Store(db) as store:
        rows = store.db.execute(
            "SELECT claims.unit, claims.text FROM claims JOIN articles ON articles.id = claims.article_id "
            "WHERE articles.url LIKE ?",
            [f"%{path}"],
        )
        return list(rows)


def requested(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_a_pass_reads_the_story_not_the_page_around_it_and_keeps_the_summary_otherwise(
    site: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, classifier: ClaimClassifier
) -> None:
    db = tmp_path / "m.db"
    a_pass(site, db, extractor, classifier)
    rows = page_rows(db)

    status, _, page_text, _ = rows["story"]
    assert status == "ok"
    assert page_text.split("\n\n") == BODY  # every paragraph of the story, and only those
    story_claims = claims_of(db, "/story")
    assert [unit for unit, _ in story_claims].count("page") >= 4
    for unit, text in story_claims:
        assert not any(junk in text for junk in BOILERPLATE)
        if unit == "page":
            assert any(text in paragraph for paragraph in BODY), text

    assert rows["private/story"][0] == "robots"
    assert requested(site, "/private/story") == 0
    assert rows["missing"][:2] == ("error", "HTTP 404 NOT FOUND")
    assert rows["slow"][0] == "error" and "timed out" in rows["slow"][1]
    assert rows["huge"][0] == "error" and "larger than" in rows["huge"][1]
    assert rows["paywall"][0] == "paywall"
    assert rows["flu"][0] is None  # not about ketamine: its page is never asked for
    for path in ("private/story", "missing", "slow", "huge", "paywall"):
        status, _, page_text, text = rows[path]
        assert page_text is None and text == ITEMS[f"/{path}"][1]  # the summary is what is kept
        assert {unit for unit, _ in claims_of(db, f"/{path}")} <= {"title", "text"}

    # Reports: per feed, what became of the pages (status, feeds list, the digest's footer).
    status = format_status(service_status(db))
    assert "1 read, 1 refused by robots.txt, 1 paywall or login, 3 failed" in status
    this_week = week_of(None, "UTC", datetime.now(UTC) + timedelta(days=7))
    with Store(db) as store:
        footer = render_text(build_digest(store, this_week))
    assert "ARTICLE PAGES READ FOR SUMMARY-ONLY ITEMS\n- Roundup: 1 read, 1 refused by robots.txt" in footer

    deadline = time.monotonic() + 5
    while requested(site, "/slow") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the server logs the slow page once it is done, after we gave up on it
    pages_before = {path: requested(site, path) for path in ITEMS}
    assert requested(site, "/robots.txt") == 1
    a_pass(site, db, extractor, classifier)
    assert {path: requested(site, path) for path in ITEMS} == pages_before  # no page is fetched again


def test_a_page_that_timed_out_is_read_on_a_later_pass(
    site: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, classifier: ClaimClassifier
) -> None:
    db = tmp_path / "m.db"
    a_pass(site, db, extractor, classifier)
    assert page_rows(db)["slow"][0] == "error"
    with Store(db) as store:  # an hour later, and the server is quick again
        store.db.execute("UPDATE articles SET page_retry = '2000-01-01' WHERE page_retry IS NOT NULL")
        store.db.conn.commit()
    site.clear()
    site.expect_request("/feed.xml").respond_with_data(b"", status=304)
    site.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    site.expect_request("/slow").respond_with_data(STORY, content_type="text/html")
    a_pass(site, db, extractor, classifier)
    status, _, page_text, _ = page_rows(db)["slow"]
    assert status == "ok" and page_text.split("\n\n") == BODY
    assert "page" in {unit for unit, _ in claims_of(db, "/slow")}
    assert requested(site, "/missing") == 0  # a 404 is not tried again


def test_monitor_article_prints_what_a_pass_would_read(site: HTTPServer) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["article", site.url_for("/story")])
    assert result.exit_code == 0, result.output
    assert "status: ok" in result.output
    assert BODY[3] in result.output
    assert not any(junk in result.output for junk in BOILERPLATE)

    urls = [site.url_for(path) for path in ("/story", "/private/story", "/paywall", "/missing")]
    result = runner.invoke(cli, ["article", *urls, "--format", "jsonl", "--claims"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["status"] for r in records] == ["ok", "robots", "paywall", "error"]
    for record in records:
        assert {"url", "final_url", "title", "published", "text", "status", "claims"} <= record.keys()
    story = records[0]
    assert story["title"].startswith("Months after ketamine")
    assert story["published"].startswith("2026-11-24")
    assert story["text"].split("\n\n") == BODY
    assert any(c["category"] == "duration" for c in story["claims"])
    assert "404" in records[3]["reason"]

    result = runner.invoke(cli, ["article", "file:///etc/hostname", "--format", "jsonl"])
    assert result.exit_code == 1 and json.loads(result.output)["reason"] == "not an http(s) link"


def test_an_aggregator_link_that_needs_scripts_keeps_the_summary() -> None:
    fetched = PageFetch(
        "https://news.google.com/rss/articles/CBMiX?oc=5",
        final_url="https://news.google.com/rss/articles/CBMiX?oc=5",
        status=200,
        content=b"<html><body><script>location='https://publisher.example/story'</script></body></html>",
        headers={"content-type": "text/html"},
    )
    page = read_page(fetched, "A summary.")
    assert page.status == "unresolved" and not page.text and "scripts" in (page.reason or "")


def article(text: str, title: str = "Ketamine eases depression", **fields: object) -> Article:
    return Article(
        id="url:x", url="https://news.example/story", title=title, text=text, source="News",
        feed_url="https://news.example/feed", **fields,
    )  # fmt: skip


def test_which_items_want_their_page() -> None:
    teaser = article("Researchers followed patients for a year.")
    assert wants_page(teaser, "auto")
    assert not wants_page(teaser, "never")
    assert not wants_page(article("Short.", title="Flu shots open"), "auto")  # not about ketamine
    assert wants_page(article("Short.", title="Flu shots open"), "always")
    assert not wants_page(article("Ketamine " + "word " * 700), "auto")  # the feed carried the story
    assert wants_page(article("Ketamine " + "word " * 400), "auto")  # a long description is still a summary
    assert not wants_page(article("Ketamine " + "word " * 400, feed_content=True), "auto")  # full content
    assert not wants_page(article("An abstract about ketamine.", evidence_tier="preprint"), "auto")
    assert not wants_page(replace(teaser, url="ftp://news.example/story"), "always")  # http(s) only
    assert not wants_page(replace(teaser, url="file:///etc/passwd"), "always")  # not beside a local feed


def test_feeds_txt_keeps_each_feeds_full_text_option(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("# news\nhttps://a.example/rss full_text=never  # teaser feed\nhttps://b.example/rss\n")
    add_feed(feeds, "https://c.example/rss", full_text="always")
    assert [(s.url, s.full_text) for s in read_feeds(feeds)] == [
        ("https://a.example/rss", "never"),
        ("https://b.example/rss", None),
        ("https://c.example/rss", "always"),
    ]
    remove_feed(feeds, "https://b.example/rss")
    assert feeds.read_text().splitlines() == [
        "# news",
        "https://a.example/rss full_text=never  # teaser feed",
        "https://c.example/rss full_text=always",
    ]


def test_redirects_are_followed_to_the_publisher_and_robots_trouble_keeps_pages_out(
    threaded_httpserver: HTTPServer,
) -> None:
    server = threaded_httpserver
    server.expect_request("/robots.txt").respond_with_data("", status=404)  # no rules
    server.expect_request("/news/articles/CBMi").respond_with_data(
        "", status=302, headers={"Location": server.url_for("/story")}
    )
    server.expect_request("/story").respond_with_data(STORY, content_type="text/html")
    with HttpFetcher(Settings(timeout=2.0, host_delay=0)) as fetcher:
        page = read_page(fetcher.fetch_page(server.url_for("/news/articles/CBMi")), "A summary.")
    assert page.status == "ok" and page.final_url == server.url_for("/story")

    server.clear()
    server.expect_request("/robots.txt").respond_with_data("oops", status=503)
    server.expect_request("/story").respond_with_data(STORY, content_type="text/html")
    with HttpFetcher(Settings(timeout=2.0, host_delay=0)) as fetcher:
        page = read_page(fetcher.fetch_page(server.url_for("/story")))
    assert page.status == "robots" and "could not be read (HTTP 503)" in (page.reason or "")
    assert requested(server, "/story") == 0


def test_a_page_that_says_no_more_than_the_summary_keeps_the_summary() -> None:
    teaser = "<html><body><article><p>Ketamine helped, the clinic said.</p></article></body></html>"
    fetched = PageFetch("https://x.example/a", status=200, content=teaser.encode(), headers={})
    page = read_page(fetched, "Ketamine helped patients at the clinic, its director said on Monday.")
    assert page.status == "too_short" and not page.text
