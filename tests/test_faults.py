"""Faults the real web produces, each against a real local HTTP server."""

from __future__ import annotations

import codecs
import gzip
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import Settings
from monitor.ingest.fetch import HttpFetcher
from monitor.ingest.parse import parse_feed
from monitor.language.extract import SentenceExtractor
from monitor.pipeline import run_once
from monitor.records import FeedSource
from monitor.storage.store import Store
from tests.test_pipeline import KeywordClassifier

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    "<item><title>Ketamine eased depression within hours</title><link>https://n.example/1</link></item>"
    "</channel></rss>"
)


def one_pass(
    tmp_path: Path, urls: list[str], extractor: SentenceExtractor, settings: Settings, db: str = "f.db"
):
    with Store(tmp_path / db) as store, HttpFetcher(settings) as fetcher:
        summary = run_once(
            [FeedSource(u) for u in urls],
            fetcher=fetcher,
            extractor=extractor,
            classifier=KeywordClassifier(),
            store=store,
        )
        states = store.feed_states()
        rows = {row["url"]: row for row in store.feeds_overview()}
    return summary, states, rows


def test_http_failures_are_recorded_with_their_status(
    httpserver: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, settings: Settings
) -> None:
    for status in (404, 500, 502, 503):
        httpserver.expect_request(f"/{status}").respond_with_data("no", status=status)
    urls = [httpserver.url_for(f"/{s}") for s in (404, 500, 502, 503)]
    summary, states, _ = one_pass(tmp_path, urls, extractor, settings)
    assert {f.error for f in summary.feeds} == {
        "HTTP 404 NOT FOUND",
        "HTTP 500 INTERNAL SERVER ERROR",
        "HTTP 502 BAD GATEWAY",
        "HTTP 503 SERVICE UNAVAILABLE",
    }
    for url in urls:  # backed off: 15 minutes after a first failure
        wait = datetime.fromisoformat(states[url].next_attempt) - datetime.now(UTC)
        assert timedelta(minutes=14) < wait <= timedelta(minutes=15)
    again, _, _ = one_pass(tmp_path, urls, extractor, settings)
    assert all(f.skipped and "back-off after 1 failures" in f.skipped for f in again.feeds)  # not hammered
    assert len(httpserver.log) == 4


def test_gone_feeds_are_deactivated_and_retry_after_is_honoured(
    httpserver: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, settings: Settings
) -> None:
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    httpserver.expect_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "120"})
    when = (datetime.now(UTC) + timedelta(hours=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    httpserver.expect_request("/down").respond_with_data("", status=503, headers={"Retry-After": when})
    urls = [httpserver.url_for(p) for p in ("/gone", "/busy", "/down")]
    _, states, rows = one_pass(tmp_path, urls, extractor, settings)
    assert rows[urls[0]]["gone_since"]
    busy = datetime.fromisoformat(states[urls[1]].next_attempt) - datetime.now(UTC)
    down = datetime.fromisoformat(states[urls[2]].next_attempt) - datetime.now(UTC)
    assert timedelta(seconds=100) < busy <= timedelta(seconds=120)
    assert timedelta(hours=2, minutes=58) < down <= timedelta(hours=3)
    again, _, _ = one_pass(tmp_path, urls, extractor, settings)
    skipped = {f.url: f.skipped for f in again.feeds}
    assert "410 Gone since" in skipped[urls[0]] and "remove it from feeds.txt" in skipped[urls[0]]
    assert "the server asked us to wait" in skipped[urls[1]]
    assert len(httpserver.log) == 3


def test_redirects_permanent_temporary_and_loops(
    httpserver: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, settings: Settings
) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(RSS)
    httpserver.expect_request("/tmp").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/a").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/b")}
    )
    httpserver.expect_request("/b").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/a")}
    )
    urls = [httpserver.url_for(p) for p in ("/old", "/tmp", "/a")]
    summary, states, _ = one_pass(tmp_path, urls, extractor, settings)
    assert states[urls[0]].moved_to == httpserver.url_for("/new")
    assert states[urls[1]].moved_to is None
    assert {f.url: f.error for f in summary.feeds}[urls[2]] == "too many redirects (a redirect loop?)"
    httpserver.clear_log()
    one_pass(tmp_path, urls[:1], extractor, settings)
    assert [entry[0].path for entry in httpserver.log] == ["/new"]  # straight to the new address


def test_a_trickling_server_is_cut_off(httpserver: HTTPServer) -> None:
    def trickle(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            for byte in RSS.encode():
                time.sleep(0.2)
                yield bytes([byte])

        return Response(body(), content_type="application/rss+xml")

    httpserver.expect_request("/trickle").respond_with_handler(trickle)
    with HttpFetcher(Settings(timeout=5, max_seconds=1)) as fetcher:
        result = fetcher.fetch(FeedSource(httpserver.url_for("/trickle")))
    assert result.error == "response not complete after 1s" and result.elapsed < 3


def test_a_reset_connection_is_an_error_not_a_crash() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def reset() -> None:
        connection, _ = listener.accept()
        connection.recv(1024)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.close()  # RST

    threading.Thread(target=reset, daemon=True).start()
    port = listener.getsockname()[1]
    with HttpFetcher(Settings(timeout=2)) as fetcher:
        result = fetcher.fetch(FeedSource(f"http://127.0.0.1:{port}/feed"))
    listener.close()
    assert result.error and ("Error" in result.error)


def test_a_50_megabyte_response_is_cut_at_the_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/huge").respond_with_data(b"<rss>" + b" " * 50_000_000)
    with HttpFetcher(Settings()) as fetcher:
        result = fetcher.fetch(FeedSource(httpserver.url_for("/huge")))
    assert result.error == "response larger than 10000000 bytes"


def parse(body: bytes, content_type: str = "application/rss+xml"):
    from monitor.records import FetchResult

    return parse_feed(
        FetchResult(
            FeedSource("https://f.example/rss"),
            status=200,
            content=body,
            headers={"content-type": content_type},
        )
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (RSS.replace("utf-8", "utf-16").encode("utf-16"), "application/rss+xml"),  # UTF-16 with a BOM
        (
            RSS.replace("utf-8", "iso-8859-1").replace("Ketamine eased", "Kétamine eased").encode("latin-1"),
            "text/xml",
        ),
        (RSS.replace(' encoding="utf-8"', "").replace("eased", "eas\xe9d").encode("latin-1"), "text/xml"),
        (RSS.encode("utf-8"), "text/xml; charset=windows-1252"),  # a wrong charset
    ],
)
def test_encodings(body: bytes, content_type: str) -> None:
    feed = parse(body, content_type)
    assert len(feed.articles) == 1 and "depression" in feed.articles[0].title


def test_entity_expansion_and_external_entities_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE")
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
        '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
        '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>'
        '<rss version="2.0"><channel><title>&h;</title><item><title>x &h;</title></item></channel></rss>'
    )
    started = time.monotonic()
    try:
        feed = parse(laughs.encode())
        assert len(feed.title) + sum(len(a.title) for a in feed.articles) < 1_000_000
    except Exception as exc:  # refusing is as good as not expanding
        assert "FeedError" in type(exc).__name__
    assert time.monotonic() - started < 5
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>Ketamine &x;</title>'
        "<description>&x;</description></item></channel></rss>"
    )
    feed = parse(xxe.encode())
    assert all("TOP-SECRET" not in a.title + a.text for a in feed.articles)


def test_awkward_items(tmp_path: Path) -> None:
    future = (datetime.now(UTC) + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><description>Ketamine with no title, link or date.</description></item>"
        f"<item><title>From the future</title><link>https://n.example/f</link><pubDate>{future}</pubDate></item>"
        "<item><title>Bad date</title><link>https://n.example/b</link><pubDate>yesterday-ish</pubDate></item>"
        "<item><guid>same</guid><title>One</title></item><item><guid>same</guid><title>Two</title></item>"
        "<item><title>v2</title><link>https://www.biorxiv.org/content/10.1101/2026.01.01.123456v2?rss=1</link></item>"
        "<item><title>v3</title><link>https://www.biorxiv.org/content/10.1101/2026.01.01.123456v3?rss=1</link></item>"
        "</channel></rss>"
    ).encode()
    feed = parse(body)
    by_title = {a.title: a for a in feed.articles}
    assert by_title[""].id.startswith("hash:") and by_title[""].text.startswith("Ketamine")
    assert by_title["From the future"].published is None  # a date in the future is not believed
    assert by_title["Bad date"].published is None
    assert "One" in by_title and "Two" not in by_title  # duplicate GUIDs: the first item only
    assert [a.title for a in feed.articles if a.doi] == ["v2"]  # a new preprint version is the same paper


def test_gzip_bodies_and_bombs(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(RSS.encode()), headers={"Content-Encoding": "gzip"}
    )
    httpserver.expect_request("/bomb").respond_with_data(
        gzip.compress(b"<" * 30_000_000), headers={"Content-Encoding": "gzip"}
    )
    with HttpFetcher(Settings()) as fetcher:
        assert fetcher.fetch(FeedSource(httpserver.url_for("/gz"))).content == RSS.encode()
        assert (
            fetcher.fetch(FeedSource(httpserver.url_for("/bomb"))).error
            == "response larger than 10000000 bytes"
        )
    assert codecs  # codecs kept for the UTF-16 case above


def test_the_same_story_through_google_news_and_from_the_outlet_is_stored_once(
    tmp_path: Path, extractor: SentenceExtractor
) -> None:
    from tests.test_pipeline import FakeFetcher

    google = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Google News</title>'
        "<item><title>Ketamine eases depression within hours in trial - The Guardian</title>"
        "<link>https://news.google.com/rss/articles/CBMiWmh0dHBzOi8vd3d3LnRoZWd1YXJkaWFuLmNvbQ?oc=5</link>"
        "<pubDate>Tue, 17 Nov 2026 09:00:00 GMT</pubDate>"
        '<source url="https://www.theguardian.com">The Guardian</source>'
        "</item></channel></rss>"
    )
    outlet = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>The Guardian</title>'
        "<item><title>Ketamine eases depression within hours in trial</title>"
        "<link>https://www.theguardian.com/society/2026/nov/17/ketamine-trial?CMP=rss</link>"
        "<pubDate>Tue, 17 Nov 2026 11:30:00 GMT</pubDate>"
        "<description>Ketamine eased depression within hours, the trial found.</description>"
        "</item></channel></rss>"
    )
    sources = [
        FeedSource("https://news.google.com/rss/search?q=ketamine"),
        FeedSource("https://www.theguardian.com/rss"),
    ]
    fetcher = FakeFetcher({sources[0].url: google.encode(), sources[1].url: outlet.encode()})
    with Store(tmp_path / "g.db") as store:
        summary = run_once(
            sources, fetcher=fetcher, extractor=extractor, classifier=KeywordClassifier(), store=store
        )
        claims = list(store.iter_claims())
    assert summary.new_articles == 1
    assert {tuple(sorted(c.feed_urls)) for c in claims} == {tuple(sorted(s.url for s in sources))}
