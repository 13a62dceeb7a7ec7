"""Expected parse + extraction output for the example feeds, kept as JSON beside the tests.

Regenerate explicitly after a deliberate change, then review the diff:

    .venv/bin/python -m tests.expectations
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.extract import SentenceExtractor, build_nlp
from monitor.parse import parse_feed
from monitor.records import FeedSource, FetchResult

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
EXPECTED = HERE / "data" / "expected"
FEEDS = ("preprints.rdf", "news.xml", "press.atom")


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


def expected_path(name: str) -> Path:
    return EXPECTED / f"{name}.expected.json"


def main() -> None:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    extractor = SentenceExtractor(build_nlp())
    for name in FEEDS:
        text = json.dumps(describe(name, extractor), indent=1, ensure_ascii=False) + "\n"
        expected_path(name).write_text(text, encoding="utf-8")
        print(f"wrote {expected_path(name)}")


if __name__ == "__main__":
    main()
