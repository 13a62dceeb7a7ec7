"""Which stored study each stored article reports: the database side of monitor.language.studies.

Run after each pass for its new articles (Store.link_studies), and once for every article by the
migration that added the study columns. SQL stays in storage/; the matching is pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.language.studies import (
    AFTER_STORY,
    BEFORE_STORY,
    PAPER_TIERS,
    Paper,
    Story,
    link_story,
    own_study,
)

if TYPE_CHECKING:
    import sqlite_utils

STUDY_COLUMNS = "id, evidence_tier, doi, url, title, text, page_text, published, source, authors, cited"


def link_studies_in(db: sqlite_utils.Database, article_ids: Iterable[str] | None) -> int:
    """Link these articles (all, when None) to the study each reports, and, when papers are
    among them, the stories around their dates that have no paper yet (the story came first).
    Returns the articles whose link was written."""
    where, params = "", []
    if article_ids is not None:
        ids = list(article_ids)
        if not ids:
            return 0
        where, params = f"WHERE id IN ({','.join('?' * len(ids))})", ids
    rows = db.execute(f"SELECT {STUDY_COLUMNS} FROM articles {where}", params).fetchall()
    papers = [_paper(r) for r in db.execute(
        f"SELECT {STUDY_COLUMNS} FROM articles WHERE evidence_tier IN ('preprint', 'peer-reviewed')"
    ).fetchall()]  # fmt: skip
    new_papers = [_paper(r) for r in rows if r[1] in PAPER_TIERS]
    stories = [_story(r) for r in rows if r[1] not in PAPER_TIERS]
    if new_papers and article_ids is not None:
        seen = {s.article_id for s in stories}
        window, bounds = _dates_near(new_papers)
        stories += [
            _story(r)
            for r in db.execute(
                f"SELECT {STUDY_COLUMNS} FROM articles "
                "WHERE evidence_tier NOT IN ('preprint', 'peer-reviewed') AND study_article_id IS NULL"
                f"{window}",
                bounds,
            ).fetchall()
            if r[0] not in seen and any(_near(_story(r), p) for p in new_papers)
        ]
    links = [(p.article_id, own_study(p)) for p in new_papers]
    links += [(s.article_id, link_story(s, papers)) for s in stories]
    for article_id, link in links:
        db.execute(
            "UPDATE articles SET study_doi = ?, study_article_id = ?, study_title = ?, study_signal = ?, "
            "study_confidence = ?, trial_ids = ? WHERE id = ?",
            [
                link.doi if link else None,
                link.article_id if link else None,
                link.title if link else None,
                link.signal if link and link.signal != "none" else None,
                link.confidence if link and link.signal != "none" else None,
                json.dumps(list(link.trial_ids)) if link and link.trial_ids else None,
                article_id,
            ],
        )
    return len(links)


def _paper(r: tuple[Any, ...]) -> Paper:
    return Paper(r[0], r[2], r[4], r[5], r[8], r[3], r[9], _when(r[7]))


def _story(r: tuple[Any, ...]) -> Story:
    cited = " ".join(json.loads(r[10] or "[]"))
    return Story(r[0], r[1], r[2], r[3], r[4], f"{r[5]}\n\n{r[6] or ''}\n\n{cited}", _when(r[7]))


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _dates_near(papers: Sequence[Paper]) -> tuple[str, list[str]]:
    """A SQL condition narrowing the unlinked stories to read to those dated near these papers
    (or undated), a day wider than `_near` on each side: most stories never get a paper, and
    reading them all at every new preprint would grow with the database."""
    dates = [p.published for p in papers if p.published is not None]
    if len(dates) < len(papers):
        return "", []  # an undated paper is near every story
    low = (min(dates) - AFTER_STORY - timedelta(days=1)).astimezone(UTC)
    high = (max(dates) + BEFORE_STORY + timedelta(days=1)).astimezone(UTC)
    condition = " AND (published IS NULL OR (published >= ? AND published <= ?))"
    return condition, [low.isoformat(timespec="seconds"), high.isoformat(timespec="seconds")]


def _near(story: Story, paper: Paper) -> bool:
    if story.published is None or paper.published is None:
        return True
    return paper.published - AFTER_STORY <= story.published <= paper.published + BEFORE_STORY
