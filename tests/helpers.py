"""Building small claim databases for tests, one claim per article."""

from __future__ import annotations

from datetime import datetime

from monitor.pipeline import claim_id
from monitor.records import Article, Claim, ClaimAttributes, Sentence
from monitor.storage.store import Store


def store_claim(
    store: Store,
    n: int,
    text: str,
    category: str = "safety",
    *,
    title: str = "A story",
    source: str = "Example News",
    url: str | None = None,
    published: str | None = None,
    stored_at: str | None = None,
    tier: str = "news",
    confidence: float = 0.9,
    uncertain: bool = False,
    claim_score: float = 0.9,
    **attributes: object,
) -> None:
    """Article n carrying one claim: `text` is both its text and the claim's sentence."""
    article = Article(
        id=f"url:https://news.example.org/{n}",
        url=url or f"https://news.example.org/{n}",
        title=title,
        text=text,
        source=source,
        feed_url="https://news.example.org/feed",
        published=datetime.fromisoformat(published + "T12:00:00+00:00") if published else None,
        evidence_tier=tier,
    )
    sentence = Sentence(article.id, text, "text", 0, len(text), ("ketamine",))
    claim = Claim(
        claim_id(sentence),
        sentence,
        category,
        confidence,
        claim_score,
        "v",
        {category: confidence},
        attributes=ClaimAttributes(**attributes),  # type: ignore[arg-type]
        uncertain=uncertain,
    )
    store.save_article(article, [claim], stored_at=stored_at)
