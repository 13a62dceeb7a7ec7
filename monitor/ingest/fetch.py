"""The only module that talks to the network (and reads feed files from disk).

Feeds, and the article pages behind summary-only items, are fetched concurrently by a
bounded thread pool over one shared httpx client, one request at a time per host and
`host_delay` apart (feeds and pages of one host share that courtesy). Pages also obey the
host's robots.txt. A failing feed or page becomes a result with an error; it never raises.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse, urlsplit

import httpx

from monitor.config import Settings
from monitor.records import FeedSource, FeedState, FetchResult, PageFetch

if TYPE_CHECKING:
    from protego import Protego

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


PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_MAX_BYTES = 500_000  # Google reads the first 500 KiB of a robots.txt, and so do we


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
            max_redirects=settings.max_redirects,
            limits=httpx.Limits(max_connections=settings.concurrency * 2),
            transport=transport,
        )
        self._hosts = _HostCourtesy(settings.host_delay, settings.concurrency)
        self._robots: dict[str, _Robots] = {}
        self._robots_lock = threading.Lock()

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
        return [self.fetch(source, states.get(source.url)) for source in sources]

    def fetch(self, source: FeedSource, state: FeedState | None = None) -> FetchResult:
        skip = _skip_reason(state)
        if skip:
            return FetchResult(source=source, skipped=skip)
        started = time.monotonic()
        try:
            if source.url.startswith("file:"):
                result = self._read_file(source)
            else:
                with self._hosts.turn(urlsplit(source.url).netloc):  # polite to one server
                    result = self._get(source, state)
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

    # -- article pages -----------------------------------------------------------

    def fetch_page(self, url: str) -> PageFetch:
        """One article page, as a pass reads it: http(s) only (or a local file), robots.txt
        obeyed, the feeds' size cap, timeouts and redirect limit. Never raises."""
        started = time.monotonic()
        scheme = urlsplit(url).scheme.lower()
        try:
            if scheme == "file":
                result = self._read_page_file(url)
            elif scheme not in ("http", "https"):
                result = PageFetch(url, error=f"not an http(s) link ({scheme or 'no scheme'})")
            else:
                result = self._get_page(url)
        except TooLarge:
            result = PageFetch(url, error=f"page larger than {self.settings.max_bytes} bytes")
        except TooSlow:
            result = PageFetch(
                url, error=f"page not complete after {self.settings.max_seconds:g}s", transient=True
            )
        except httpx.TimeoutException:
            result = PageFetch(url, error=f"timed out after {self.settings.timeout:g}s", transient=True)
        except httpx.TooManyRedirects:
            result = PageFetch(url, error=f"more than {self.settings.max_redirects} redirects")
        except httpx.HTTPError as exc:
            transient = isinstance(exc, httpx.TransportError)
            result = PageFetch(url, error=f"{type(exc).__name__}: {exc}".rstrip(": "), transient=transient)
        except OSError as exc:
            result = PageFetch(url, error=exc.strerror or str(exc))
        return replace(result, elapsed=time.monotonic() - started)

    def _get_page(self, url: str) -> PageFetch:
        robots = self._robots_for(url)
        if robots.unreachable:
            return PageFetch(url, error=f"robots.txt unreachable ({robots.unreachable})", transient=True)
        refused = robots.refusal(url, self.settings.user_agent)
        if refused:
            return PageFetch(url, refused=refused)
        deadline = time.monotonic() + self.settings.max_seconds
        with (
            self._hosts.turn(urlsplit(url).netloc),
            self.client.stream("GET", url, headers={"Accept": PAGE_ACCEPT}) as response,
        ):
            final_url = str(response.url)
            headers = {k.lower(): v for k, v in response.headers.items()}
            common = dict(url=url, final_url=final_url, status=response.status_code, headers=headers)
            if response.status_code >= 400:
                reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                transient = response.status_code >= 500 or response.status_code == 429
                return PageFetch(**common, error=reason, transient=transient)
            body = _read_capped(response.iter_bytes(), self.settings.max_bytes, deadline)
        # Redirected to another host: that host's robots.txt has its say too.
        if urlsplit(final_url).netloc != urlsplit(url).netloc:
            refused = self._robots_for(final_url).refusal(final_url, self.settings.user_agent)
            if refused:
                return PageFetch(url, final_url=final_url, refused=refused)
        return PageFetch(**common, content=body)

    def _robots_for(self, url: str) -> _Robots:
        """The robots.txt of the URL's host, read on first use (once per host and fetcher)."""
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            robots = self._robots.setdefault(host, _Robots(host))
        with robots.lock:  # one read per host, whichever page asks first
            if not robots.read:
                self._read_robots(robots)
        return robots

    def _read_robots(self, robots: _Robots) -> None:
        """As Google reads robots.txt: a 4xx means no rules; a 5xx means keep out for now; no
        answer at all means the host is unreachable (its pages would fail too)."""
        from protego import Protego

        robots.read = True
        try:
            with (
                self._hosts.turn(urlsplit(robots.host).netloc, counts=False),
                self.client.stream(
                    "GET", f"{robots.host}/robots.txt", headers={"Accept": "text/plain"}
                ) as response,
            ):
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    return
                if response.status_code >= 400:
                    robots.failed = f"HTTP {response.status_code}"
                    return
                body = _read_capped(response.iter_bytes(), ROBOTS_MAX_BYTES * 4, time.monotonic() + 30)
        except TooLarge:
            robots.failed = "larger than 2 MB"
            return
        except (httpx.HTTPError, TooSlow, OSError) as exc:
            robots.unreachable = f"{type(exc).__name__}: {exc}".rstrip(": ")
            return
        robots.rules = Protego.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace"))

    def _read_page_file(self, url: str) -> PageFetch:
        """A page beside a local feed (the examples): read as a server would send it."""
        _, body = self._read_local(url)
        return PageFetch(url, final_url=url, status=200, content=body, headers={"content-type": "text/html"})

    def _read_local(self, url: str) -> tuple[Path, bytes]:
        """A file: URL's path and bytes, under the same size cap as a response."""
        path = Path(unquote(urlparse(url).path))
        with path.open("rb") as handle:
            return path, _read_capped(iter(lambda: handle.read(65536), b""), self.settings.max_bytes)

    def _read_file(self, source: FeedSource) -> FetchResult:
        path, body = self._read_local(source.url)
        # No server to say what it is: guess from the name, as a web server would
        # (feedparser reads JSON Feed only when told it is JSON).
        kind = FILE_TYPES.get(path.suffix.lower())
        headers = {"content-type": kind} if kind else {}
        return FetchResult(source=source, status=200, content=body, headers=headers, final_url=source.url)


class _Robots:
    """One host's robots.txt, read once."""

    def __init__(self, host: str) -> None:
        self.host = host  # scheme://netloc
        self.lock = threading.Lock()
        self.read = False
        self.rules: Protego | None = None  # None: no rules
        self.failed: str | None = None  # the server failed to give it (5xx): keep out
        self.unreachable: str | None = None  # no answer at all

    def refusal(self, url: str, user_agent: str) -> str | None:
        """Why robots.txt refuses this URL to our User-Agent, or None."""
        if self.failed:
            return f"{self.host}/robots.txt could not be read ({self.failed}): not fetching pages there"
        if self.rules is not None and not self.rules.can_fetch(url, user_agent):
            return f"disallowed by {self.host}/robots.txt"
        return None


class _HostCourtesy:
    """One request at a time per host, `delay` seconds apart (feeds and pages of a host alike,
    whichever thread asks), and no more than `in_flight` requests at once over all hosts: a
    thread waiting out a host's delay holds no connection. A robots.txt is asked between turns,
    without making the host's next request wait (a crawler reads it just before the page)."""

    def __init__(self, delay: float, in_flight: int) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[threading.Lock, list[float]]] = {}
        self._in_flight = threading.BoundedSemaphore(max(1, in_flight))

    @contextlib.contextmanager
    def turn(self, host: str, counts: bool = True) -> Iterator[None]:
        with self._lock:
            lock, last = self._hosts.setdefault(host.lower(), (threading.Lock(), []))
        with lock:
            if last and counts:
                wait = last[0] + self.delay - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                with self._in_flight:
                    yield
            finally:
                if counts:
                    last[:] = [time.monotonic()]


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
