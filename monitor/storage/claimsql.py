"""How claims look in SQL: the SELECT behind every read, the filters, the FTS query built
from user text, and the mapping between Claim / StoredClaim and table rows.

No connection here: monitor.storage.store runs what this module writes.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from monitor.records import Claim, ClaimAttributes, ClaimFilter, Money, StoredClaim

# Every read of claims joins each to its article; filter_sql's WHERE clauses name both.
CLAIM_FROM = "FROM claims JOIN articles ON articles.id = claims.article_id"

CLAIM_SELECT = f"""
SELECT claims.id AS claim_id, claims.text, claims.category, claims.confidence,
       claims.claim_score, claims.scores, claims.mentions, claims.unit, claims.start,
       claims."end", claims.model_version, claims.extracted_at,
       articles.id AS article_id, articles.title AS article_title, articles.url AS article_url,
       claims.explicit, claims.polarity, claims.hedged, claims.study_type, claims.sample_size,
       claims.form, claims.durations_days, claims.amounts, claims.percentages,
       claims.secondary, claims.uncertain, claims.model_category, claims.corrected,
       articles.source, articles.published, articles.doi, articles.feed_url, articles.evidence_tier,
       articles.study_doi, articles.study_article_id, articles.study_title,
       (SELECT s.source FROM articles AS s WHERE s.id = articles.study_article_id) AS study_source,
       (SELECT json_group_array(feed_url) FROM article_feeds
         WHERE article_feeds.article_id = articles.id) AS feed_urls
{CLAIM_FROM}
"""

# Matches in the sentence count twice as much as matches in the article's title. Spelled out
# rather than ORDER BY rank: the configured rank costs a third more per scored row.
SEARCH_RANK = "bm25(claims_search, 1.0, 0.5)"
SEARCH_COLUMNS = f"SELECT {SEARCH_RANK} AS rank, highlight(claims_search, 0, ?, ?) AS highlighted,"


CLAIM_DATE = "COALESCE(articles.published, claims.extracted_at)"


def filter_sql(filters: ClaimFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = [] if filters.include_rejected else ["claims.category != 'none'"]
    params: list[Any] = []

    def any_of(column: str, values: tuple[str, ...]) -> None:
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)

    any_of("claims.category", filters.categories)
    any_of("articles.evidence_tier", filters.evidence_tiers)
    any_of("claims.study_type", filters.study_types)
    any_of("claims.polarity", filters.polarities)
    any_of("claims.form", filters.forms)
    if filters.sources:
        clauses.append("(" + " OR ".join("articles.source LIKE ? ESCAPE '\\'" for _ in filters.sources) + ")")
        params.extend(f"%{_like_escape(s)}%" for s in filters.sources)
    if filters.since:
        clauses.append(f"{CLAIM_DATE} >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append(f"{CLAIM_DATE} < ?")
        params.append(_day_after(filters.until))
    if filters.min_confidence is not None:
        clauses.append("claims.confidence >= ?")
        params.append(filters.min_confidence)
    if not filters.include_uncertain:
        clauses.append("(claims.uncertain = 0 OR claims.corrected = 1)")
    if filters.uncertain_only:
        clauses.append("claims.uncertain = 1 AND claims.corrected = 0")
    if filters.stored_since:
        clauses.append("claims.extracted_at >= ?")
        params.append(filters.stored_since)
    if filters.study:
        doi = study_key(filters.study)
        clauses.append("(articles.study_doi = ? OR articles.study_article_id = ? OR articles.id = ?)")
        params.extend([doi, filters.study, filters.study])
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def study_key(value: str) -> str:
    """A DOI as the study columns hold it, from a DOI, doi: or doi.org link; else the value."""
    from monitor.language.studies import dois_in

    found = dois_in(value)
    return found[0] if found else value.strip()


def limit_sql(filters: ClaimFilter, default: int | None = None) -> str:
    limit = filters.limit or default
    if limit is None:
        return f" LIMIT -1 OFFSET {int(filters.offset)}" if filters.offset else ""
    return f" LIMIT {int(limit)} OFFSET {int(filters.offset)}"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _day_after(value: str) -> str:
    """ "2026-06-30" means up to the end of that day; a full timestamp is taken as it is."""
    if len(value) == 10:
        return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
    return value


# A phrase in straight or curly double quotes, or a run of word characters joined by
# hyphens/apostrophes, optionally ending in * for a prefix search.
_QUERY_PART = re.compile(r"[\"“”„](?P<phrase>[^\"“”„]*)[\"“”„]?|(?P<word>\w+(?:[-'\u2019]\w+)*)(?P<star>\*)?")


MAX_TERMS = 32  # a pasted paragraph is cut to its first 32 terms
# Searching for ketamine means any form of it ("ketamine*" would miss esketamine).
KETAMINE_FORMS = ("ketamine", "esketamine", "arketamine", "spravato", "ketalar", "ketanest")


def fts_query(text: str) -> str | None:
    """Turn anything a user types into a safe FTS5 query: every word or phrase quoted
    (so AND, NEAR, -, :, parentheses are just text), terms ANDed, "ketamine" expanded to its
    forms. The index stems words (Porter), so "relapse" also finds "relapsed" and "relapsing".
    None when the text holds no words at all."""
    parts = []
    for match in _QUERY_PART.finditer(text):
        if match.group("phrase") is not None:
            words = re.findall(r"\w+", match.group("phrase"))
            if words:
                parts.append('"' + " ".join(words) + '"')
            continue
        words = re.findall(r"\w+", match.group("word"))
        if match.group("star") and len(words) == 1:
            parts.append(_prefix(words[0]))
        elif match.group("star"):
            parts.append('"' + " ".join(words) + '"*')
        elif len(words) == 1 and words[0].lower() in ("ketamine", "ketamines"):
            parts.append("(" + " OR ".join(f'"{form}"' for form in KETAMINE_FORMS) + ")")
        else:
            parts.append('"' + " ".join(words) + '"')
    # Explicit AND: FTS5 accepts an implied AND between phrases, not after a bracketed group.
    return " AND ".join(parts[:MAX_TERMS]) or None


def _prefix(word: str) -> str:
    """A prefix term against an index of stems. FTS5 stems the prefix as typed ("happy*" looks
    for "happi*"), but a truncated word has no suffix to strip: "dissociat*" must also meet
    "dissoci", the stem of "dissociation". So look for the prefix, and for the stems Porter could
    have cut it down to: its leading 4+ letters, at most four letters short of it, as whole terms."""
    typed = word.lower()
    terms = [f'"{typed[:k]}"' for k in range(max(4, len(typed) - 4), len(typed))] + [f'"{typed}"*']
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def claim_row(claim: Claim, stamp: str) -> dict[str, Any]:
    s, a = claim.sentence, claim.attributes
    return {
        "id": claim.id,
        "article_id": s.article_id,
        "text": s.text,
        "unit": s.unit,
        "start": s.start,
        "end": s.end,
        "mentions": json.dumps(list(s.mentions)),
        "category": claim.category,
        "confidence": round(claim.confidence, 4),
        "claim_score": round(claim.claim_score, 4),
        "scores": json.dumps(claim.scores),
        "model_version": claim.model_version,
        "extracted_at": stamp,
        "explicit": s.explicit,
        "polarity": a.polarity,
        "hedged": a.hedged,
        "study_type": a.study_type,
        "sample_size": a.sample_size,
        "form": a.form,
        "durations_days": json.dumps(list(a.durations_days)),
        "amounts": json.dumps([{"amount": m.amount, "currency": m.currency} for m in a.amounts]),
        "percentages": json.dumps(list(a.percentages)),
        "secondary": claim.secondary,
        "uncertain": claim.uncertain,
        "model_category": claim.category,
        "corrected": False,
    }


def stored_claim(row: dict[str, Any]) -> StoredClaim:
    return StoredClaim(
        claim_id=row["claim_id"],
        text=row["text"],
        category=row["category"],
        confidence=row["confidence"],
        claim_score=row["claim_score"],
        scores=json.loads(row["scores"]),
        mentions=tuple(json.loads(row["mentions"])),
        unit=row["unit"],
        start=row["start"],
        end=row["end"],
        model_version=row["model_version"],
        extracted_at=row["extracted_at"],
        article_id=row["article_id"],
        article_title=row["article_title"],
        article_url=row["article_url"],
        source=row["source"],
        published=row["published"],
        doi=row["doi"],
        feed_url=row["feed_url"],
        feed_urls=tuple(json.loads(row["feed_urls"] or "[]")),
        evidence_tier=row["evidence_tier"],
        explicit=bool(row["explicit"]),
        attributes=ClaimAttributes(
            polarity=row["polarity"],
            hedged=bool(row["hedged"]),
            study_type=row["study_type"],
            sample_size=row["sample_size"],
            form=row["form"],
            durations_days=tuple(json.loads(row["durations_days"] or "[]")),
            amounts=tuple(Money(m["amount"], m["currency"]) for m in json.loads(row["amounts"] or "[]")),
            percentages=tuple(json.loads(row["percentages"] or "[]")),
        ),
        secondary=row["secondary"],
        uncertain=bool(row["uncertain"]),
        model_category=row["model_category"],
        corrected=bool(row["corrected"]),
        study_doi=row.get("study_doi"),
        study_article_id=row.get("study_article_id"),
        study_title=row.get("study_title"),
        study_source=row.get("study_source"),
        rank=row.get("rank"),
        highlighted=row.get("highlighted"),
    )
