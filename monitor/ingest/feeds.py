"""Managing feeds.txt, which stays the source of truth and editable by hand: list with
health, add, remove (comments kept), check now without storing, OPML in and out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from monitor.config import Settings, feed_line, normalise_feed_location, read_feeds
from monitor.errors import ConfigError, FeedError
from monitor.ingest.fetch import HttpFetcher
from monitor.ingest.parse import parse_feed
from monitor.language.lexicon import mentions_ketamine
from monitor.records import FeedSource
from monitor.storage.store import Store


@dataclass(frozen=True)
class FeedListing:
    url: str
    line: int
    title: str | None
    status: str  # ok, failing, not fetched yet
    last_ok: str | None
    last_error: str | None
    consecutive_failures: int
    articles_stored: int
    attempts: int = 0
    not_modified_rate: float | None = None  # share of attempts answered 304
    items_last: int | None = None
    moved_to: str | None = None
    gone_since: str | None = None
    next_attempt: str | None = None
    full_text: str = "auto"  # its full_text= option, else the configured default
    pages: dict[str, int] = field(default_factory=dict)  # article pages fetched for its items, by status


@dataclass(frozen=True)
class FeedCheck:
    url: str
    status: int | None
    ok: bool
    items: int
    ketamine_items: int
    format: str | None
    error: str | None
    seconds: float


def list_feeds(feeds_path: Path, db_path: Path, full_text: str = "auto") -> list[FeedListing]:
    sources = read_feeds(feeds_path)
    known: dict[str, dict] = {}
    pages: dict[str, dict[str, int]] = {}
    if db_path.exists():
        with Store(db_path, readonly=True) as store:
            known = {row["url"]: row for row in store.feeds_overview()}
            pages = store.page_counts()
    listings = []
    for source in sources:
        row = known.get(source.url, {})
        failures = row.get("consecutive_failures") or 0
        attempts = row.get("attempts") or 0
        if row.get("gone_since"):
            status = "gone"
        elif not row.get("last_fetched"):
            status = "not fetched yet"
        else:
            status = "failing" if failures else "ok"
        listings.append(
            FeedListing(
                source.url,
                source.line,
                row.get("title"),
                status,
                row.get("last_ok"),
                row.get("last_error"),
                failures,
                row.get("articles_stored") or 0,
                attempts,
                round((row.get("not_modified") or 0) / attempts, 2) if attempts else None,
                row.get("items_last"),
                row.get("moved_to"),
                row.get("gone_since"),
                row.get("next_attempt"),
                source.full_text or full_text,
                pages.get(source.url, {}),
            )
        )
    return listings


def add_feed(
    feeds_path: Path, location: str, comment: str | None = None, full_text: str | None = None
) -> str:
    url = normalise_feed_location(location, base=feeds_path.parent)
    if url is None:
        raise ConfigError(f"not a URL or path: {location!r}")
    existing = {s.url for s in read_feeds(feeds_path)} if feeds_path.exists() else set()
    if url in existing:
        raise ConfigError(f"{location} is already in {feeds_path}")
    text = feeds_path.read_text(encoding="utf-8") if feeds_path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    if comment:
        text += f"# {' '.join(comment.split())}\n"
    text += location.strip() + (f" full_text={full_text}" if full_text else "") + "\n"
    feeds_path.write_text(text, encoding="utf-8")
    return url


def remove_feed(feeds_path: Path, location: str) -> int:
    """Remove the line(s) naming this feed; comments and other lines stay as they are."""
    target = normalise_feed_location(location, base=feeds_path.parent)
    lines = feeds_path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept, removed = [], 0
    for line in lines:
        parts = feed_line(line)
        if parts is not None and normalise_feed_location(parts[0], base=feeds_path.parent) == target:
            removed += 1
            continue
        kept.append(line)
    if not removed:
        raise ConfigError(f"{location} is not in {feeds_path}")
    feeds_path.write_text("".join(kept), encoding="utf-8")
    return removed


def check_feeds(feeds_path: Path, settings: Settings, location: str | None = None) -> list[FeedCheck]:
    """Fetch now and report, storing nothing (no conditional GET: the whole feed is read)."""
    if location:
        url = normalise_feed_location(location, base=Path.cwd())
        if url is None:
            raise ConfigError(f"not a URL or path: {location!r}")
        sources = [FeedSource(url)]
    else:
        sources = read_feeds(feeds_path)
    checks = []
    with HttpFetcher(settings) as fetcher:
        for result in fetcher.fetch_all(sources, {}):
            items = ketamine = 0
            fmt, error = None, result.error
            if result.ok:
                try:
                    parsed = parse_feed(result)
                    items, fmt = len(parsed.articles), parsed.format
                    ketamine = sum(mentions_ketamine(f"{a.title}\n{a.text}") for a in parsed.articles)
                except FeedError as exc:
                    error = exc.reason
            checks.append(
                FeedCheck(
                    result.source.url,
                    result.status,
                    error is None,
                    items,
                    ketamine,
                    fmt,
                    error,
                    round(result.elapsed, 2),
                )
            )
    order = {s.url: i for i, s in enumerate(sources)}
    return sorted(checks, key=lambda c: order[c.url])


def import_opml(feeds_path: Path, opml_path: Path) -> tuple[list[str], list[str]]:
    """Add every feed of an OPML subscription list; returns (added, already there)."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        tree = etree.parse(str(opml_path), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"cannot read OPML {opml_path}: {exc}") from None
    added, present = [], []
    existing = {s.url for s in read_feeds(feeds_path)} if feeds_path.exists() else set()
    new_lines = []
    for outline in tree.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url or normalise_feed_location(url, feeds_path.parent) is None:
            continue
        if url in existing:
            present.append(url)
            continue
        existing.add(url)
        title = " ".join((outline.get("title") or outline.get("text") or "").split())
        new_lines.append((f"# {title}\n" if title else "") + url + "\n")
        added.append(url)
    if new_lines:
        text = feeds_path.read_text(encoding="utf-8") if feeds_path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"\n# Imported from {opml_path.name} on {datetime.now(UTC):%Y-%m-%d}\n" + "".join(new_lines)
        feeds_path.write_text(text, encoding="utf-8")
    return added, present


def export_opml(feeds_path: Path, db_path: Path) -> str:
    """OPML 2.0 of feeds.txt, with the titles the feeds gave themselves where known."""
    listings = list_feeds(feeds_path, db_path)
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(f.title or f.url)} title={quoteattr(f.title or f.url)} '
        f"xmlUrl={quoteattr(f.url)}/>"
        for f in listings
    )
    stamp = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n  <head>\n'
        f"    <title>Ketamine claim monitor feeds</title>\n    <dateCreated>{stamp}</dateCreated>\n"
        f"  </head>\n  <body>\n{outlines}\n  </body>\n</opml>\n"
    )
