"""The only module that talks to the network (and reads feed files from disk).

Feeds are fetched concurrently by a bounded thread pool over one shared httpx
client. A failing feed becomes a FetchResult with an error; it never raises.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlparse

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
        """Yield one result per source, in completion order."""
        sources = list(sources)
        workers = max(1, min(self.settings.concurrency, len(sources)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            futures = [pool.submit(self.fetch, s, states.get(s.url)) for s in sources]
            for future in as_completed(futures):
                yield future.result()

    def fetch(self, source: FeedSource, state: FeedState | None = None) -> FetchResult:
        started = time.monotonic()
        try:
            local = source.url.startswith("file:")
            result = self._read_file(source) if local else self._get(source, state)
        except TooLarge:
            result = FetchResult(source=source, error=f"response larger than {self.settings.max_bytes} bytes")
        except httpx.TimeoutException:
            result = FetchResult(source=source, error=f"timed out after {self.settings.timeout:g}s")
        except httpx.TooManyRedirects:
            result = FetchResult(source=source, error="too many redirects")
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
        with self.client.stream("GET", source.url, headers=headers) as response:
            common = dict(
                source=source,
                status=response.status_code,
                final_url=str(response.url),
                headers={k.lower(): v for k, v in response.headers.items()},
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
                    **common, error=f"HTTP {response.status_code} {response.reason_phrase}".strip()
                )
            body = _read_capped(response.iter_bytes(), self.settings.max_bytes)
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


def _read_capped(chunks: Iterable[bytes], limit: int) -> bytes:
    """Join chunks, refusing as soon as the total passes the limit (a gzip bomb stops here too,
    because httpx hands us decoded bytes)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)
