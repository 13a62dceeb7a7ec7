"""Turn fetched bytes into Articles: feedparser for the feed, lxml for the HTML inside it.

Parsers take bytes and headers, never URLs, so nothing here can touch the network.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
import lxml.html
from lxml import etree

from monitor.errors import FeedError
from monitor.language.attributes import evidence_tier
from monitor.language.studies import references_in
from monitor.records import Article, FetchResult, ParsedFeed

# Elements whose end starts a new paragraph. A sentence never crosses one.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
SKIP_TAGS = frozenset(
    ["script", "style", "noscript", "iframe", "object", "embed", "svg", "math", "head", "template"]
)

# Query parameters that identify a campaign or a feed, not a document.
TRACKING_PARAMS = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|rss|cmpid|ncid|ocid|smid|smtyp|"
    r"at_medium|at_campaign|at_custom\d*|cmp|src|ref|referrer|feed|_hsenc|_hsmi|itm_.*|taid|"
    r"emc|mbid|traffic_source|sr_share)$",
    re.IGNORECASE,
)
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>?#]+)", re.IGNORECASE)
# bioRxiv and medRxiv add v1, v2 ... to the DOI in links; the DOI itself has none.
PREPRINT_VERSION = re.compile(r"(10\.1101/[\d.]+)v\d+$", re.IGNORECASE)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def parse_feed(result: FetchResult) -> ParsedFeed:
    """Parse one fetched feed. Raises FeedError when the bytes are not a feed at all."""
    if result.content is None:
        raise FeedError(result.source.url, "nothing to parse")
    headers = dict(result.headers)
    headers.setdefault("content-location", result.final_url or result.source.url)
    parsed = feedparser.parse(result.content, response_headers=headers, sanitize_html=True)
    bozo = str(parsed.get("bozo_exception") or "") or None
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(result.source.url, _not_a_feed(result.content, bozo))
    feed = parsed.get("feed", {})
    source_name = _text(feed.get("title", "")) or urlsplit(result.source.url).netloc or "local feed"
    articles = []
    seen: set[str] = set()
    for entry in parsed.entries:
        article = entry_to_article(entry, source_name, result.source.url)
        if article is not None and article.id not in seen:
            seen.add(article.id)
            articles.append(article)
    return ParsedFeed(
        url=result.source.url,
        title=source_name,
        format=parsed.get("version") or "unknown",
        articles=tuple(articles),
        bozo=_one_line(bozo) if bozo else None,
    )


def _not_a_feed(content: bytes, bozo: str | None) -> str:
    """One line saying what the bytes were instead."""
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"{", b"[")):
        return "JSON, not RSS or Atom (JSON Feed is not supported)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page, not a feed (look for its RSS or Atom link)"
    if b"<opml" in head:
        return "an OPML subscription list, not a feed (use `monitor feeds import-opml`)"
    if not head:
        return "empty response"
    return f"not a feed ({_one_line(bozo or 'no RSS or Atom root element')})"


def entry_to_article(entry: Any, feed_title: str, feed_url: str) -> Article | None:
    """One feedparser entry to an Article; None when it has neither title nor text."""
    title = _text(entry.get("title", ""))
    body = _best_body(entry)
    text = html_to_text(body)
    if not title and not text:
        return None
    link = _local_link(entry.get("link") or None)
    guid = entry.get("id") or None
    doi = find_doi(entry)
    publisher = entry.get("source", {}).get("title") if isinstance(entry.get("source"), dict) else None
    source = _text(publisher or "") or feed_title
    return Article(
        evidence_tier=evidence_tier(feed_url, link, doi, source),
        title_key=title_key(title, source),
        id=article_id(doi=doi, link=link, guid=guid, title=title, source=source),
        url=link,
        title=title,
        text=text,
        source=source,
        feed_url=feed_url,
        published=_entry_date(entry),
        doi=doi,
        guid=guid,
        authors=_authors(entry),
        feed_content=_has_content(entry),
        cited=references_in(body),
    )


def title_key(title: str, source: str = "") -> str:
    """A headline reduced to its words, without the " - Publisher" news aggregators append:
    the same story from several feeds (or through Google News redirects) gets the same key."""
    words = title.lower()
    if source and words.endswith(" - " + source.lower()):
        words = words[: -len(source) - 3]
    words = re.sub(r"\s[-|\u2013\u2014]\s[^-|\u2013\u2014]{2,60}$", "", words)  # "... - Site Name"
    return " ".join(re.findall(r"\w+", words))


def article_id(*, doi: str | None, link: str | None, guid: str | None, title: str, source: str) -> str:
    """A stable identity: DOI, then canonical link, then GUID, then a hash of title and source."""
    if doi:
        return f"doi:{doi.lower()}"
    if link and urlsplit(link).scheme in ("http", "https"):
        return f"url:{canonical_url(link)}"
    if guid:
        return f"guid:{guid.strip()}"
    digest = hashlib.sha256(f"{source}\n{title}".encode()).hexdigest()[:24]
    return f"hash:{digest}"


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, no tracking parameters."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80) or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    ]
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def find_doi(entry: Any) -> str | None:
    """DOI from dc:identifier / prism:doi, else from the link or GUID."""
    candidates = [
        entry.get("prism_doi"),
        entry.get("dc_identifier"),
        entry.get("link"),
        entry.get("id"),
    ]
    for value in candidates:
        if not value:
            continue
        match = DOI_RE.search(str(value))
        if match:
            doi = match.group(1).rstrip(".,;)")
            return PREPRINT_VERSION.sub(r"\1", doi)
    return None


def html_to_text(html: str) -> str:
    """Readable text with paragraphs separated by a blank line; never raises."""
    if not html or not html.strip():
        return ""
    html = _CONTROL_CHARS.sub("", html)
    if "<" not in html:  # plain text, possibly with entities
        return _join_paragraphs(re.split(r"\n\s*\n", unescape(html)))
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _join_paragraphs(re.split(r"\n\s*\n", html))
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            paragraphs.append("".join(current))
            current.clear()

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.lower() in SKIP_TAGS:
            return
        block = tag.lower() in BLOCK_TAGS
        if block:
            flush()
        if element.text and tag:
            current.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                current.append(child.tail)
        if block:
            flush()

    walk(root)
    flush()
    return _join_paragraphs(paragraphs)


def _join_paragraphs(paragraphs: list[str]) -> str:
    cleaned = (_SPACES.sub(" ", p.replace("\n", " ")).strip() for p in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


def _best_body(entry: Any) -> str:
    """Full content when the item carries it (content:encoded, Atom content), else the summary."""
    contents = [c.get("value", "") for c in entry.get("content", []) or [] if c.get("value")]
    if contents:
        return max(contents, key=len)
    return entry.get("summary", "") or entry.get("description", "") or ""


def _local_link(link: str | None) -> str | None:
    """feedparser resolves a relative link in a local feed to "file://dir/page" (the first folder
    read as a host); it is "file:///dir/page"."""
    if link and link.startswith("file://") and not link.startswith("file:///"):
        return "file:///" + link.removeprefix("file://")
    return link


def _has_content(entry: Any) -> bool:
    return any(c.get("value") for c in entry.get("content", []) or [])


def _text(value: str) -> str:
    """Titles may carry markup or entities; flatten them to one line."""
    return " ".join(html_to_text(value).split()) if value else ""


def _entry_date(entry: Any) -> datetime | None:
    """The item's date, unless it is unreadable or more than a day ahead (a mistyped year would
    otherwise put the item on top of every list for months)."""
    latest = datetime.now(UTC) + timedelta(days=1)
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
            return when if when <= latest else None
    return None


def _authors(entry: Any) -> str | None:
    names = [a.get("name", "") for a in entry.get("authors", []) or [] if isinstance(a, dict)]
    names = [n.strip() for n in names if n and n.strip()]
    if names:
        return ", ".join(names)
    author = entry.get("author") or entry.get("dc_creator")
    return _text(author) if author else None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
