from __future__ import annotations

import gzip
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import Settings
from monitor.ingest.fetch import HttpFetcher
from monitor.records import FeedSource, FeedState

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def test_sends_user_agent_and_uses_conditional_get(httpserver: HTTPServer, settings: Settings) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(FEED, headers={"ETag": '"v1"', "Last-Modified": "Tue, 17 Nov 2026 09:00:00 GMT"})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    source = FeedSource(httpserver.url_for("/feed"))
    with HttpFetcher(settings) as fetcher:
        first = fetcher.fetch(source)
        second = fetcher.fetch(source, FeedState(source.url, first.etag, first.last_modified))
    assert first.content == FEED and first.etag == '"v1"'
    assert second.not_modified and second.ok and second.content is None
    assert seen[0].headers["User-Agent"].startswith("ketamine-monitor/")
    assert seen[1].headers["If-Modified-Since"] == "Tue, 17 Nov 2026 09:00:00 GMT"


def test_gzip_body_is_decoded(httpserver: HTTPServer, settings: Settings) -> None:
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(FEED), headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
    )
    with HttpFetcher(settings) as fetcher:
        result = fetcher.fetch(FeedSource(httpserver.url_for("/gz")))
    assert result.content == FEED


def test_size_cap_applies_to_decoded_bytes(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"<" * 5_000_000)  # about 5 kB on the wire
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with HttpFetcher(Settings(max_bytes=1_000_000)) as fetcher:
        result = fetcher.fetch(FeedSource(httpserver.url_for("/bomb")))
    assert not result.ok and "larger than 1000000 bytes" in (result.error or "")


def test_redirect_is_followed_and_final_url_kept(httpserver: HTTPServer, settings: Settings) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(FEED)
    with HttpFetcher(settings) as fetcher:
        result = fetcher.fetch(FeedSource(httpserver.url_for("/old")))
    assert result.content == FEED and result.final_url == httpserver.url_for("/new")


def test_http_errors_and_timeouts_become_results(threaded_httpserver: HTTPServer) -> None:
    httpserver = threaded_httpserver
    httpserver.expect_request("/500").respond_with_data("boom", status=500)
    httpserver.expect_request("/slow").respond_with_handler(lambda r: time.sleep(1.5) or Response(FEED))
    sources = [FeedSource(httpserver.url_for(p)) for p in ("/500", "/slow")]
    sources.append(FeedSource("http://127.0.0.1:9/refused"))  # discard port: nothing listens
    with HttpFetcher(Settings(timeout=0.5)) as fetcher:
        results = {r.source.url: r for r in fetcher.fetch_all(sources, {})}
    assert results[sources[0].url].error == "HTTP 500 INTERNAL SERVER ERROR"
    assert results[sources[1].url].error == "timed out after 0.5s"
    assert results[sources[2].url].error and "ConnectError" in results[sources[2].url].error


def test_hosts_are_fetched_concurrently_and_one_host_politely() -> None:
    servers = [HTTPServer(host="127.0.0.1", threaded=True) for _ in range(3)]
    for server in servers:
        server.expect_request("/slow").respond_with_handler(lambda r: time.sleep(0.4) or Response(FEED))
        server.start()
    try:
        sources = [FeedSource(s.url_for(f"/slow?n={i}")) for s in servers for i in range(2)]
        started = time.monotonic()
        with HttpFetcher(Settings(concurrency=6, host_delay=0.3)) as fetcher:
            results = list(fetcher.fetch_all(sources, {}))
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    assert all(r.ok for r in results) and len(results) == 6
    # Per host: 0.4 + 0.3 pause + 0.4 = 1.1 s, hosts side by side.
    assert 1.1 <= elapsed < 2.6, elapsed  # serial everything would take 3.3 s


def test_local_files_are_read(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    with HttpFetcher(settings) as fetcher:
        ok = fetcher.fetch(FeedSource(path.as_uri()))
        missing = fetcher.fetch(FeedSource((tmp_path / "missing.xml").as_uri()))
    assert ok.content == FEED
    assert missing.error == "No such file or directory"
