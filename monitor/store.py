"""The only module that talks to SQLite, through sqlite-utils.

Every article is written with its feed link and its claims in one transaction,
so an interrupted run never leaves half an article behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.errors import QueryError, StoreError
from monitor.migrations import MIGRATIONS
from monitor.records import (
    ALL_CLAIMS,
    Article,
    Claim,
    ClaimAttributes,
    ClaimFilter,
    FeedState,
    FetchResult,
    Money,
    ParsedFeed,
    RunSummary,
    StoredClaim,
)

HIGHLIGHT = ("[", "]")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The claim database."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout: float = 10.0) -> None:
        self.path = path
        try:
            if readonly:
                if not path.exists():
                    raise StoreError(str(path), "no such database; run `monitor once` first")
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, timeout=busy_timeout)
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.migrate()
            elif "_migrations" not in self.db.table_names():
                raise StoreError(str(path), "not a monitor database")
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(path), _describe(exc)) from exc
        except OSError as exc:
            raise StoreError(str(path), exc.strerror or str(exc)) from exc

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in self.db.execute("SELECT name FROM _migrations").fetchall()}
        applied = []
        for name, function in MIGRATIONS:
            if name in done:
                continue
            with self._transaction():
                function(self.db)
                self.db["_migrations"].insert({"name": name, "applied_at": now_iso()})
            applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # -- feeds ----------------------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        return {
            row["url"]: FeedState(row["url"], row["etag"], row["last_modified"])
            for row in self.db["feeds"].rows
        }

    def record_fetch(self, result: FetchResult, parsed: ParsedFeed | None, error: str | None) -> None:
        """Remember the outcome of fetching (and parsing) one feed."""
        stamp = now_iso()
        table = self.db["feeds"]
        with self._transaction():
            self._ensure_feed(result.source.url)
            row = table.get(result.source.url)
            update: dict[str, Any] = {"last_fetched": stamp, "last_status": result.status}
            if error is None:
                update.update(last_error=None, last_ok=stamp, consecutive_failures=0)
                if not result.not_modified:
                    update.update(etag=result.etag, last_modified=result.last_modified)
                if parsed is not None:
                    update.update(title=parsed.title, format=parsed.format, items_last=len(parsed.articles))
            else:
                update.update(last_error=error, consecutive_failures=(row["consecutive_failures"] or 0) + 1)
            table.update(result.source.url, update)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing; a busy or locked database becomes a StoreError with one clear line."""
        try:
            with self.db.atomic():
                yield
        except sqlite3.OperationalError as exc:
            raise StoreError(str(self.path), _describe(exc)) from exc

    def _ensure_feed(self, url: str) -> None:
        self.db["feeds"].insert({"url": url}, ignore=True)

    # -- articles and claims --------------------------------------------------

    def known_articles(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk)
            known.update(r[0] for r in rows)
        return known

    def link_feed(self, article_id: str, feed_url: str) -> None:
        """Record that another feed carried an article we already have."""
        with self._transaction():
            self._ensure_feed(feed_url)
            self.db["article_feeds"].insert(
                {"article_id": article_id, "feed_url": feed_url, "first_seen": now_iso()},
                ignore=True,
            )

    def save_article(self, article: Article, claims: Iterable[Claim]) -> bool:
        """Store an article with its claims atomically. False if it was already there."""
        stamp = now_iso()
        with self._transaction():
            self._ensure_feed(article.feed_url)
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO articles (id, url, title, text, source, doi, guid, "
                "authors, published, fetched, feed_url, evidence_tier) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    article.id,
                    article.url,
                    article.title,
                    article.text,
                    article.source,
                    article.doi,
                    article.guid,
                    article.authors,
                    article.published.isoformat(timespec="seconds") if article.published else None,
                    stamp,
                    article.feed_url,
                    article.evidence_tier,
                ],
            )
            if cursor.rowcount == 0:
                return False
            self.db["article_feeds"].insert(
                {"article_id": article.id, "feed_url": article.feed_url, "first_seen": stamp},
                ignore=True,
            )
            self.db.execute(
                "UPDATE feeds SET articles_stored = articles_stored + 1 WHERE url = ?",
                [article.feed_url],
            )
            # No OR IGNORE here: it would also swallow constraint violations.
            self.db["claims"].insert_all(_claim_row(c, stamp) for c in claims)
        return True

    # -- runs -----------------------------------------------------------------

    def start_run(self, started: datetime) -> int:
        with self._transaction():
            return int(self.db["runs"].insert({"started": started.isoformat(timespec="seconds")}).last_pk)

    def finish_run(self, summary: RunSummary) -> None:
        with self._transaction():
            self.db["runs"].update(
                summary.run_id,
                {
                    "finished": summary.finished.isoformat(timespec="seconds"),
                    "feeds_ok": summary.feeds_ok,
                    "feeds_failed": summary.feeds_failed,
                    "new_articles": summary.new_articles,
                    "new_claims": json.dumps(summary.new_claims),
                    "errors": json.dumps({f.url: f.error for f in summary.feeds if f.error}),
                },
            )

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in ("feeds", "articles", "claims", "runs")}

    # -- reading claims -------------------------------------------------------

    def iter_claims(self, filters: ClaimFilter = ALL_CLAIMS) -> Iterator[StoredClaim]:
        """Every matching claim, oldest first, streamed from a cursor."""
        where, params = _filter_sql(filters)
        sql = f"{_CLAIM_SELECT} {where} ORDER BY claims.extracted_at, claims.rowid"
        if filters.limit:
            sql += f" LIMIT {int(filters.limit)}"
        cursor = self.db.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        for values in cursor:
            yield _stored_claim(dict(zip(columns, values, strict=True)))

    def search(self, query: str, filters: ClaimFilter = ALL_CLAIMS) -> list[StoredClaim]:
        """Full-text search over claim sentences, best BM25 match first."""
        match = fts_query(query)
        where, params = _filter_sql(filters)
        where = f"{where} {'AND' if where else 'WHERE'} claims_fts MATCH ?"
        sql = (
            _CLAIM_SELECT.replace("SELECT", _SEARCH_COLUMNS, 1)
            + f" JOIN claims_fts ON claims_fts.rowid = claims.rowid {where}"
            + f" ORDER BY rank LIMIT {int(filters.limit or 20)}"
        )
        try:
            cursor = self.db.execute(sql, [*HIGHLIGHT, *params, match])
        except sqlite3.OperationalError as exc:
            raise QueryError(f"cannot search for {query!r}: {exc}") from exc
        columns = [d[0] for d in cursor.description]
        return [_stored_claim(dict(zip(columns, values, strict=True))) for values in cursor]


_CLAIM_SELECT = """
SELECT claims.id AS claim_id, claims.text, claims.category, claims.confidence,
       claims.claim_score, claims.scores, claims.mentions, claims.unit, claims.start,
       claims."end", claims.model_version, claims.extracted_at,
       articles.id AS article_id, articles.title AS article_title, articles.url AS article_url,
       claims.explicit, claims.polarity, claims.hedged, claims.study_type, claims.sample_size,
       claims.form, claims.durations_days, claims.amounts, claims.percentages,
       articles.source, articles.published, articles.doi, articles.feed_url, articles.evidence_tier,
       (SELECT json_group_array(feed_url) FROM article_feeds
         WHERE article_feeds.article_id = articles.id) AS feed_urls
FROM claims JOIN articles ON articles.id = claims.article_id
"""

_SEARCH_COLUMNS = "SELECT bm25(claims_fts) AS rank, highlight(claims_fts, 0, ?, ?) AS highlighted,"


def _filter_sql(filters: ClaimFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.categories:
        clauses.append(f"claims.category IN ({','.join('?' * len(filters.categories))})")
        params.extend(filters.categories)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


# A phrase in straight or curly double quotes, or a run of word characters joined by
# hyphens/apostrophes, optionally ending in * for a prefix search.
_QUERY_PART = re.compile(r"[\"“”„](?P<phrase>[^\"“”„]*)[\"“”„]?|(?P<word>\w+(?:[-'\u2019]\w+)*)(?P<star>\*)?")


def fts_query(text: str) -> str:
    """Turn anything a user types into a safe FTS5 query: every word or phrase quoted
    (so AND, NEAR, -, :, parentheses are just text), terms ANDed, `word*` kept as a prefix."""
    parts = []
    for match in _QUERY_PART.finditer(text):
        if match.group("phrase") is not None:
            words = re.findall(r"\w+", match.group("phrase"))
            if words:
                parts.append('"' + " ".join(words) + '"')
        else:
            words = re.findall(r"\w+", match.group("word"))
            parts.append('"' + " ".join(words) + '"' + ("*" if match.group("star") else ""))
    if not parts:
        raise QueryError(f"nothing to search for in {text!r}: use words, e.g. `monitor search bladder`")
    return " ".join(parts)


def _claim_row(claim: Claim, stamp: str) -> dict[str, Any]:
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
    }


def _stored_claim(row: dict[str, Any]) -> StoredClaim:
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
            polarity=row["polarity"] or "neutral",
            hedged=bool(row["hedged"]),
            study_type=row["study_type"],
            sample_size=row["sample_size"],
            form=row["form"],
            durations_days=tuple(json.loads(row["durations_days"] or "[]")),
            amounts=tuple(Money(m["amount"], m["currency"]) for m in json.loads(row["amounts"] or "[]")),
            percentages=tuple(json.loads(row["percentages"] or "[]")),
        ),
        rank=row.get("rank"),
        highlighted=row.get("highlighted"),
    )


def _describe(exc: sqlite3.Error) -> str:
    message = str(exc)
    if "locked" in message or "busy" in message:
        return "database is locked by another process; try again when it has finished"
    if "not a database" in message or "malformed" in message:
        return f"not a usable SQLite database ({message})"
    return message
