"""Reading the whole story: which items need their linked page, and what a fetched page says.

Most news feeds carry a headline and a teaser; the claims are in the article. For an item
whose feed text is short and that names ketamine, a pass fetches the linked page (through
`monitor.ingest.fetch`, which obeys robots.txt and the feeds' limits) and reads its main text with
trafilatura, which drops navigation, share buttons, related stories, comments and cookie
banners. A page that is refused, fails, or is a paywall, consent or login page leaves the
item's summary in place, and says why. Parsing here takes bytes, never URLs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from monitor.language.lexicon import mentions_ketamine
from monitor.language.studies import references_in
from monitor.records import Article, Page, PageFetch

# Feed text shorter than this is a summary, not the story (a teaser is a few hundred
# characters; the shortest real news stories in ../shared/corpus/health-news run to about
# 1,500). An item with full content (content:encoded, Atom content) is taken at its word
# unless that content is a teaser too.
SUMMARY_CHARS = 1500
WHOLE_STORY_CHARS = 3000  # an item without full content whose description is this long carries the story
# Abstracts are the whole of what preprint and PubMed feeds promise: their pages add nothing.
ABSTRACT_TIERS = ("preprint", "peer-reviewed")
# A page must say more than the summary to replace it, and at least this much.
MIN_PAGE_CHARS = 400
# Links that only a browser running the aggregator's scripts can turn into the publisher's page.
AGGREGATOR_HOSTS = ("news.google.com",)
HTML_TYPES = ("text/html", "application/xhtml+xml")

# Paragraphs that are the page talking to the reader, not the story: paywalls, logins, consent.
WALL_RE = re.compile(
    r"subscribe (?:now |today )?to (?:continue|read|keep reading|unlock)|to continue reading|"
    r"(?:already a subscriber|already have an account)|(?:sign|log) ?in to (?:continue|read|keep reading)|"
    r"create a free account|(?:this|the rest of this) (?:article|story|content) is (?:only )?(?:available )?"
    r"(?:for|to) (?:subscribers|members)|register (?:for free )?to (?:read|continue)|"
    r"subscribers only|premium content",
    re.I,
)
CONSENT_RE = re.compile(
    r"we (?:value|care about) your privacy|(?:accept|reject|allow) (?:all )?cookies|"
    r"(?:use|uses) cookies (?:to|and similar)|cookie (?:settings|preferences|policy)|"
    r"consent to (?:the use of |our use of )?cookies|manage (?:your )?(?:consent|preferences)",
    re.I,
)
NOT_FREE_RE = re.compile(r'"isAccessibleForFree"\s*:\s*(?:false|"false")', re.I)


class PageFetcher(Protocol):
    def fetch_page(self, url: str) -> PageFetch: ...


def wants_page(article: Article, mode: str) -> bool:
    """Whether a pass should read the page an item links to. `mode` is the feed's full_text
    option: "never"; "always" (every new item with a link); "auto": a summary-only item (short
    text, not an abstract) whose title or summary names ketamine."""
    if mode == "never" or not article.url or not _readable_link(article):
        return False
    if mode == "always":
        return True
    if article.evidence_tier in ABSTRACT_TIERS:
        return False
    short = len(article.text) < (SUMMARY_CHARS if article.feed_content else WHOLE_STORY_CHARS)
    return short and (mentions_ketamine(article.title) or mentions_ketamine(article.text))


def _readable_link(article: Article) -> bool:
    """http(s) links; a file: link only beside a local feed (the examples), inside its folder."""
    link = urlsplit(article.url or "")
    if link.scheme in ("http", "https"):
        return bool(link.netloc)
    if link.scheme != "file" or not article.feed_url.startswith("file:"):
        return False
    folder = Path(unquote(urlsplit(article.feed_url).path)).parent.resolve()
    return Path(unquote(link.path)).resolve().is_relative_to(folder)


class PageReader:
    """Fetches and reads pages while the rest of a pass goes on: `read` an item as soon as it is
    known to want its page, `attach` the pages when the pass needs them. Pages are fetched on a
    thread per request (the fetcher's per-host courtesy serialises a host's pages) and read in
    `pool` (the pass's parser processes) as each arrives. One request per link."""

    def __init__(self, fetcher: PageFetcher, pool: Executor | None = None, threads: int = 256) -> None:
        self._fetcher = fetcher
        self._pool = pool
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="page")
        self._pages: dict[str, Future[Page]] = {}

    def read(self, article: Article) -> None:
        if not article.url or article.url in self._pages:
            return
        page: Future[Page] = Future()
        self._pages[article.url] = page
        summary, headline = article.text, article.title

        def fetched(done: Future[PageFetch]) -> None:
            try:
                if self._pool is None:
                    page.set_result(read_page(done.result(), summary, headline))
                else:
                    self._pool.submit(read_page, done.result(), summary, headline).add_done_callback(
                        lambda reading: _settle(page, reading)
                    )
            except BaseException as exc:  # handed to whoever waits for the page
                page.set_exception(exc)

        self._threads.submit(self._fetcher.fetch_page, article.url).add_done_callback(fetched)

    def attach(self, articles: Iterable[Article], wanted: Callable[[Article], bool]) -> list[Article]:
        """The articles, each `wanted` one whose page was asked for with that page attached."""
        return [
            replace(a, page=self._pages[a.url].result()) if a.url in self._pages and wanted(a) else a
            for a in articles
        ]

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _settle(target: Future[Page], source: Future[Page]) -> None:
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def read_pages(urls: Iterable[str], fetcher: PageFetcher) -> list[Page]:
    """Each page as `monitor article` shows it: fetched as a pass would, read on its own. Only
    http(s) links (a pass reads local files only beside a local feed)."""
    urls = list(dict.fromkeys(urls))
    web = [u for u in urls if urlsplit(u).scheme.lower() in ("http", "https")]
    items = [Article(id=u, url=u, title="", text="", source="", feed_url="") for u in web]
    with PageReader(fetcher) as reader:
        for item in items:
            reader.read(item)
        pages = {item.url: item.page for item in reader.attach(items, lambda _: True)}
    refused = Page("", status="error", reason="not an http(s) link")
    return [pages.get(u) or replace(refused, url=u) for u in urls]


def wanted_by(modes: Mapping[str, str], default: str) -> Callable[[Article], bool]:
    """Whether an item wants its page, by its feed's full_text option, else the default."""
    return lambda article: wants_page(article, modes.get(article.feed_url) or default)


def read_page(fetched: PageFetch, summary: str = "", headline: str = "") -> Page:
    """What a fetched page gives the monitor: its main text when it is the story, else why not.
    The headline (the page's, or the item's) is not repeated as the story's first paragraph:
    the title is read for claims already."""
    final = fetched.final_url or fetched.url
    base = dict(url=fetched.url, final_url=fetched.final_url)
    if fetched.refused:
        return Page(**base, status="robots", reason=fetched.refused)
    if urlsplit(final).netloc.lower() in AGGREGATOR_HOSTS:
        return Page(
            **base,
            status="unresolved",
            reason=f"{urlsplit(final).netloc} links reach the publisher only by running scripts",
        )
    if fetched.error or fetched.content is None:
        return Page(**base, status="error", reason=fetched.error or "no content", retry=fetched.transient)
    kind = fetched.headers.get("content-type", "text/html").split(";")[0].strip().lower()
    if kind and kind not in HTML_TYPES:
        return Page(**base, status="error", reason=f"not a web page ({kind})")
    html = _decode(fetched.content, fetched.headers.get("content-type", ""))
    title, published, text = main_text(html, final)
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if paragraphs and _same_words(paragraphs[0], title or "", headline):
        paragraphs = paragraphs[1:]
    walls = [p for p in paragraphs if _is_wall(p)]
    story = "\n\n".join(p for p in paragraphs if p not in walls)
    meta = dict(base, title=title, published=published, cited=references_in(html))
    if len(story) >= max(MIN_PAGE_CHARS, int(len(summary) * 1.2)):
        return Page(**meta, status="ok", text=story)
    if walls or NOT_FREE_RE.search(html) or _is_wall(html[:200_000]):
        marker = "a paywall, login or consent page"
        return Page(**meta, status="paywall", reason=f"{marker}: {len(story)} characters of story")
    return Page(
        **meta,
        status="too_short",
        reason=f"main text of {len(story)} characters, no more than the summary's {len(summary)}",
    )


def main_text(html: str, url: str | None = None) -> tuple[str | None, datetime | None, str]:
    """The page's title, publication date and main text (paragraphs separated by a blank line),
    by trafilatura with its defaults but for comments (what scored 0.95 F1 on the public
    article-extraction benchmark): tables stay, since trial results live in them."""
    from trafilatura import bare_extraction

    document = bare_extraction(
        html,
        url=url,
        include_comments=False,
        with_metadata=True,
    )
    if document is None:
        return None, None, ""
    text = getattr(document, "text", None) or ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    body = "\n\n".join(line for line in lines if line)
    return getattr(document, "title", None) or None, _date(getattr(document, "date", None)), body


def _same_words(text: str, *titles: str) -> bool:
    words = re.findall(r"\w+", text.lower())
    return any(words == re.findall(r"\w+", t.lower()) for t in titles if t)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _is_wall(text: str) -> bool:
    return bool(WALL_RE.search(text) or (len(text) < 600 and CONSENT_RE.search(text)))


def _decode(content: bytes, content_type: str) -> str:
    """Bytes as text: the charset the server named, else the page's own <meta charset>, else
    UTF-8 (undecodable bytes replaced)."""
    declared = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    if not declared:
        declared = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", content[:4096], re.I)
    name = declared.group(1) if declared else "utf-8"
    name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    try:
        return content.decode(name, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def page_counts_text(counts: dict[str, int]) -> str:
    """ "4 read, 1 refused by robots.txt, 2 paywall ..." in a fixed order."""
    names = {
        "ok": "read", "robots": "refused by robots.txt", "paywall": "paywall or login",
        "too_short": "too short", "unresolved": "unresolved redirect (summary kept)", "error": "failed",
    }  # fmt: skip
    return ", ".join(f"{counts[s]} {name}" for s, name in names.items() if counts.get(s))


def page_json(page: Page) -> dict[str, object]:
    """A page as `monitor article --format jsonl` prints it."""
    return {
        "url": page.url,
        "final_url": page.final_url,
        "title": page.title,
        "published": page.published.isoformat(timespec="seconds") if page.published else None,
        "text": page.text,
        "status": page.status,
        "reason": page.reason,
    }
