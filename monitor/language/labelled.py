"""Hand-labelled whole articles: the evaluation sets (models/eval, models/heldout) and the
article-form training data (models/data/articles).

Each file is a JSON list of articles; each article a title and paragraphs of sentences, every
sentence labelled claim / not claim (and category, polarity, hedging for claims). The article
text is rebuilt exactly as the feed parser would produce it, with every labelled sentence's
offsets, so the extractor can run on it as in production.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import ModelError
from monitor.language.lexicon import KETAMINE, Treatment
from monitor.records import Article, Sentence

if TYPE_CHECKING:
    from spacy.language import Language

    from monitor.language.extract import SentenceExtractor


@dataclass(frozen=True)
class GoldSentence:
    unit: str  # "title" or "text"
    start: int
    end: int
    text: str
    category: str | None  # None: not a claim
    polarity: str | None = None
    hedged: bool | None = None
    secondary: str | None = None
    why: str | None = None  # for a sentence that is not a claim, why not (real labels only)
    about: bool | None = None  # names the treatment or refers back to it (real labels only)


@dataclass(frozen=True)
class LabelledArticle:
    article: Article
    kind: str  # abstract, news, press_release, regulator, headline, distractor
    gold: tuple[GoldSentence, ...]
    origin: str  # the file it came from, without ".json"
    treatment: Treatment = KETAMINE  # what the claims are about (a real story's own drug)


def extractor_for(items: Sequence[LabelledArticle], nlp: Language) -> SentenceExtractor:
    """The extractor, following in each labelled article the treatment that article is about
    (ketamine in the hand-written ones, a health-news story's own drug in the real ones)."""
    from monitor.language.extract import SentenceExtractor  # spaCy, only for those who extract

    treatments = {item.article.id: item.treatment for item in items}
    return SentenceExtractor(nlp, treatment_of=lambda article: treatments.get(article.id, KETAMINE))


def match_gold(
    sentence: Sentence, gold: tuple[GoldSentence, ...] | list[GoldSentence]
) -> GoldSentence | None:
    """The labelled sentence an extracted one covers: the one it overlaps most, if the overlap
    is at least half of the shorter of the two."""
    best, best_overlap = None, 0
    for g in gold:
        if g.unit != sentence.unit:
            continue
        overlap = min(g.end, sentence.end) - max(g.start, sentence.start)
        if overlap > best_overlap:
            best, best_overlap = g, overlap
    if best is None or best_overlap < 0.5 * min(best.end - best.start, sentence.end - sentence.start):
        return None
    return best


def load_articles(folder: Path, prefix: str = "eval") -> list[LabelledArticle]:
    """Every article of every *.json file in folder, in file and then list order; each article's
    id is prefix:file:id ("eval:eval-news:N01")."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ModelError(f"no labelled articles in {folder}")
    articles = []
    for path in files:
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
            articles += [_rebuild(item, path.stem, prefix) for item in items]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"{path.name}: not a list of labelled articles ({exc!r})") from exc
    return articles


def _rebuild(item: dict, origin: str, prefix: str) -> LabelledArticle:
    """The article text as the parser would have produced it: sentences joined by a space,
    paragraphs by a blank line, with every labelled sentence's offsets recorded."""
    gold = [_gold("title", 0, item["title"])]
    paragraphs, offset = [], 0
    for paragraph in item["paragraphs"]:
        parts = []
        for sentence in paragraph:
            start = offset + sum(len(p) + 1 for p in parts)
            gold.append(_gold("text", start, sentence))
            parts.append(sentence["text"])
        paragraphs.append(" ".join(parts))
        offset += len(paragraphs[-1]) + 2
    article = Article(
        id=f"{prefix}:{origin}:{item['id']}",
        url=item.get("url"),
        title=item["title"]["text"],
        text="\n\n".join(paragraphs),
        source=item.get("source", ""),
        feed_url=item.get("feed_url", ""),
    )
    return LabelledArticle(article, item.get("kind", "unknown"), tuple(gold), origin)


def _gold(unit: str, start: int, sentence: dict) -> GoldSentence:
    claim = bool(sentence.get("claim"))
    return GoldSentence(
        unit=unit,
        start=start,
        end=start + len(sentence["text"]),
        text=sentence["text"],
        category=sentence.get("category") if claim else None,
        polarity=sentence.get("polarity") if claim else None,
        hedged=sentence.get("hedged") if claim else None,
        secondary=sentence.get("secondary") if claim else None,
    )
