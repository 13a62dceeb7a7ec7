"""The only module that talks to the network (and reads feed files from disk).

Feeds are fetched concurrently by a bounded thread pool over one shared httpx
client. A failing feed becomes a FetchResult with an error; it never raises.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit

import httpx

from monitor.config import Settings
from monitor.records import FeedSource, FeedState, FetchResult

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


FILE_TYPES = {
    ".json": "application/feed+json",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
}


class TooLarge(Exception):
    pass


class TooSlow(Exception):
    pass


class HttpFetcher:
    """Fetches feeds over HTTP(S) with conditional GET, a size cap and a timeout."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT},
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=True,
            max_redirects=5,
            limits=httpx.Limits(max_connections=settings.concurrency * 2),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_all(
        self, sources: Iterable[FeedSource], states: Mapping[str, FeedState]
    ) -> Iterator[FetchResult]:
        """Yield one result per source, in completion order. Different hosts are fetched
        concurrently; feeds on the same host one after another, `host_delay` seconds apart."""
        by_host: dict[str, list[FeedSource]] = {}
        for source in sources:
            by_host.setdefault(urlsplit(source.url).netloc, []).append(source)
        if not by_host:
            return
        workers = max(1, min(self.settings.concurrency, len(by_host)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            futures = [pool.submit(self._fetch_host, group, states) for group in by_host.values()]
            for future in as_completed(futures):
                yield from future.result()

    def _fetch_host(self, sources: list[FeedSource], states: Mapping[str, FeedState]) -> list[FetchResult]:
        results: list[FetchResult] = []
        asked = False  # has this host been sent a request yet?
        for source in sources:
            state = states.get(source.url)
            if asked and _skip_reason(state) is None and not source.url.startswith("file:"):
                time.sleep(self.settings.host_delay)  # polite to one server: pause between requests
            result = self.fetch(source, state)
            asked = asked or not result.skipped
            results.append(result)
        return results

    def fetch(self, source: FeedSource, state: FeedState | None = None) -> FetchResult:
        skip = _skip_reason(state)
        if skip:
            return FetchResult(source=source, skipped=skip)
        started = time.monotonic()
        try:
            local = source.url.startswith("file:")
            result = self._read_file(source) if local else self._get(source, state)
        except TooLarge:
            result = FetchResult(source=source, error=f"response larger than {self.settings.max_bytes} bytes")
        except TooSlow:
            result = FetchResult(
                source=source, error=f"response not complete after {self.settings.max_seconds:g}s"
            )
        except httpx.TimeoutException:
            result = FetchResult(source=source, error=f"timed out after {self.settings.timeout:g}s")
        except httpx.TooManyRedirects:
            result = FetchResult(source=source, error="too many redirects (a redirect loop?)")
        except httpx.HTTPError as exc:
            result = FetchResult(source=source, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        except OSError as exc:
            result = FetchResult(source=source, error=exc.strerror or str(exc))
        return replace(result, elapsed=time.monotonic() - started)

    def _get(self, source: FeedSource, state: FeedState | None) -> FetchResult:
        headers: dict[str, str] = {}
        if state and state.etag:
            headers["If-None-Match"] = state.etag
        if state and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        url = state.moved_to if state and state.moved_to else source.url
        deadline = time.monotonic() + self.settings.max_seconds
        with self.client.stream("GET", url, headers=headers) as response:
            common = dict(
                source=source,
                status=response.status_code,
                final_url=str(response.url),
                headers={k.lower(): v for k, v in response.headers.items()},
                moved_to=_permanent_target(response),
            )
            if response.status_code == 304:
                return FetchResult(
                    **common,
                    not_modified=True,
                    etag=state.etag if state else None,
                    last_modified=state.last_modified if state else None,
                )
            if response.status_code >= 400:
                return FetchResult(
                    **common,
                    error=f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    retry_after=_retry_after(response.headers.get("retry-after")),
                )
            body = _read_capped(response.iter_bytes(), self.settings.max_bytes, deadline)
            return FetchResult(
                **common,
                content=body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )

    def _read_file(self, source: FeedSource) -> FetchResult:
        path = Path(unquote(urlparse(source.url).path))
        with path.open("rb") as handle:
            body = _read_capped(iter(lambda: handle.read(65536), b""), self.settings.max_bytes)
        # No server to say what it is: guess from the name, as a web server would
        # (feedparser reads JSON Feed only when told it is JSON).
        kind = FILE_TYPES.get(path.suffix.lower())
        headers = {"content-type": kind} if kind else {}
        return FetchResult(source=source, status=200, content=body, headers=headers, final_url=source.url)


def _read_capped(chunks: Iterable[bytes], limit: int, deadline: float | None = None) -> bytes:
    """Join chunks, refusing as soon as the total passes the limit (a gzip bomb stops here too,
    because httpx hands us decoded bytes) or the deadline passes (a server trickling a byte a
    second never trips the read timeout)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        if deadline is not None and time.monotonic() > deadline:
            raise TooSlow
        parts.append(chunk)
    return b"".join(parts)


def _skip_reason(state: FeedState | None) -> str | None:
    if state is None:
        return None
    if state.gone_since:
        return f"410 Gone since {state.gone_since[:10]}: remove it from feeds.txt"
    if state.next_attempt and state.next_attempt > datetime.now(UTC).isoformat(timespec="seconds"):
        asked = state.last_status == 429
        why = (
            "the server asked us to wait"
            if asked
            else f"back-off after {state.consecutive_failures} failures"
        )
        return f"not before {state.next_attempt} ({why})"
    return None


def _permanent_target(response: httpx.Response) -> str | None:
    """The final URL when every hop was a permanent redirect (301, 308); a 302 or 307 keeps the
    old address."""
    if response.history and all(r.status_code in (301, 308) for r in response.history):
        return str(response.url)
    return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
