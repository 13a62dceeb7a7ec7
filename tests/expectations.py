"""Expected parse + extraction output for the example feeds, kept as JSON beside the tests.

Regenerate explicitly after a deliberate change, then review the diff:

    .venv/bin/python -m tests.expectations
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.ingest.pages import read_page
from monitor.ingest.parse import parse_feed
from monitor.language.extract import SentenceExtractor, build_nlp
from monitor.records import Article, FeedSource, FetchResult, PageFetch

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
EXPECTED = HERE / "data" / "expected"
FEEDS = ("preprints.rdf", "news.xml", "press.atom", "summaries.xml")
PAGES = tuple(sorted(p.name for p in (EXAMPLES / "pages").glob("*.html")))


def describe(name: str, extractor: SentenceExtractor) -> dict[str, Any]:
    path = EXAMPLES / name
    result = FetchResult(
        FeedSource(f"https://feeds.example.org/{name}"), status=200, content=path.read_bytes()
    )
    feed = parse_feed(result)
    articles = []
    for article, sentences in extractor.extract(feed.articles):
        articles.append(
            {
                "id": article.id,
                "title": article.title,
                "published": article.published.isoformat() if article.published else None,
                "paragraphs": article.text.count("\n\n") + 1 if article.text else 0,
                "ketamine_sentences": [[s.unit, s.start, s.end, s.text] for s in sentences],
            }
        )
    return {"format": feed.format, "title": feed.title, "articles": articles}


def describe_page(name: str, extractor: SentenceExtractor) -> dict[str, Any]:
    """What a pass reads from an example article page: status, title, date, the main text's
    paragraphs and the candidate sentences in it."""
    url = f"https://news.example.org/pages/{name}"
    fetched = PageFetch(url, final_url=url, status=200, content=(EXAMPLES / "pages" / name).read_bytes(),
                        headers={"content-type": "text/html"})  # fmt: skip
    page = read_page(fetched, "A summary.")
    article = Article(id=f"url:{url}", url=url, title=page.title or "", text="", source="News",
                      feed_url="https://news.example.org/feed", page=page)  # fmt: skip
    [(_, sentences)] = list(extractor.extract([article]))
    return {
        "status": page.status,
        "reason": page.reason,
        "title": page.title,
        "published": page.published.isoformat() if page.published else None,
        "paragraphs": page.text.split("\n\n") if page.text else [],
        "ketamine_sentences": [[s.unit, s.start, s.end, s.text] for s in sentences],
    }


def expected_path(name: str) -> Path:
    return EXPECTED / f"{name}.expected.json"


def main() -> None:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    extractor = SentenceExtractor(build_nlp())
    for name in FEEDS:
        text = json.dumps(describe(name, extractor), indent=1, ensure_ascii=False) + "\n"
        expected_path(name).write_text(text, encoding="utf-8")
        print(f"wrote {expected_path(name)}")
    for name in PAGES:
        text = json.dumps(describe_page(name, extractor), indent=1, ensure_ascii=False) + "\n"
        expected_path(name).write_text(text, encoding="utf-8")
        print(f"wrote {expected_path(name)}")


if __name__ == "__main__":
    main()
