"""The database schema as named, ordered migrations (applied once each, recorded in
_migrations). Column comments live in the CREATE statements so they stay in the
schema itself, visible in sqlite3 ``.schema`` and in Datasette."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    MIGRATIONS.append((function.__name__, function))
    return function


def run_statements(db: sqlite_utils.Database, script: str) -> None:
    """Execute a script statement by statement. (executescript would first COMMIT the
    transaction the migration runs in, so a failed migration could be half applied.)"""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:80]}")


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,          -- as written in feeds.txt (paths become file:// URLs)
            title TEXT,                    -- the feed's own title, from its last good parse
            format TEXT,                   -- feedparser's version: rss10, rss20, atom10 ...
            etag TEXT,                     -- ETag of the last 200 response, sent as If-None-Match
            last_modified TEXT,            -- Last-Modified of the last 200, sent as If-Modified-Since
            last_status INTEGER,           -- HTTP status of the last attempt (NULL: no response)
            last_error TEXT,               -- why the last attempt failed; NULL when it succeeded
            last_fetched TEXT,             -- ISO time of the last attempt, UTC
            last_ok TEXT,                  -- ISO time of the last success (200 or 304), UTC
            consecutive_failures INTEGER NOT NULL DEFAULT 0,  -- failed attempts since the last success
            items_last INTEGER,            -- items in the feed at the last successful parse
            articles_stored INTEGER NOT NULL DEFAULT 0        -- articles first stored from this feed
        );

        CREATE TABLE articles (
            id TEXT PRIMARY KEY,           -- doi:..., url:<canonical link>, guid:... or hash:...
            url TEXT,                      -- the link as the feed gave it
            title TEXT NOT NULL,           -- plain-text headline; claims with unit='title' point into it
            text TEXT NOT NULL,            -- plain text, paragraphs separated by a blank line
            source TEXT NOT NULL,          -- publisher or feed name shown to readers
            doi TEXT,                      -- DOI without version suffix, when the item has one
            guid TEXT,                     -- the item's id/guid in its feed
            authors TEXT,                  -- comma-separated names, when given
            published TEXT,                -- ISO time the item says it was published, UTC
            fetched TEXT NOT NULL,         -- ISO time it was first stored, UTC
            feed_url TEXT NOT NULL REFERENCES feeds(url)  -- the feed it was first seen in
        );

        CREATE TABLE article_feeds (
            article_id TEXT NOT NULL REFERENCES articles(id),  -- the article
            feed_url TEXT NOT NULL REFERENCES feeds(url),      -- a feed that carried it
            first_seen TEXT NOT NULL,      -- ISO time this feed was first seen carrying it, UTC
            PRIMARY KEY (article_id, feed_url)
        );

        CREATE TABLE claims (
            id TEXT PRIMARY KEY,           -- hash of article id, unit and offsets: stable across runs
            article_id TEXT NOT NULL REFERENCES articles(id),  -- where the sentence was found
            text TEXT NOT NULL,            -- the sentence as it stands in the article
            unit TEXT NOT NULL,            -- 'title' or 'text': the article field the offsets index
            start INTEGER NOT NULL,        -- character offset of the sentence start in that field
            "end" INTEGER NOT NULL,        -- character offset just past the sentence end
            mentions TEXT NOT NULL,        -- JSON list of the ketamine terms as written
            category TEXT NOT NULL,        -- efficacy, safety, duration or cost
            confidence REAL NOT NULL,      -- the category model's probability for that category
            claim_score REAL NOT NULL,     -- the claim detector's probability that this is a claim
            scores TEXT NOT NULL,          -- JSON object: probability per category
            model_version TEXT NOT NULL,   -- version of the classifier that labelled it
            extracted_at TEXT NOT NULL     -- ISO time it was stored, UTC
        );
        CREATE INDEX claims_article ON claims(article_id);
        CREATE INDEX claims_category ON claims(category, extracted_at);

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,        -- run number
            started TEXT NOT NULL,         -- ISO time, UTC
            finished TEXT,                 -- ISO time, UTC; NULL while running or if it died
            feeds_ok INTEGER,              -- feeds fetched and parsed (including 304s)
            feeds_failed INTEGER,          -- feeds that could not be read
            new_articles INTEGER,          -- articles stored for the first time
            new_claims TEXT,               -- JSON object: new claims per category
            errors TEXT                    -- JSON object: feed url -> error, for failed feeds
        );
        """,
    )
    db["claims"].enable_fts(["text"], tokenize="porter", create_triggers=True)


@migration
def m002_claim_attributes(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        ALTER TABLE articles ADD COLUMN evidence_tier TEXT
            /* preprint, peer-reviewed, press release, regulator or news: from where the item came */;
        ALTER TABLE claims ADD COLUMN explicit INTEGER NOT NULL DEFAULT 1
            /* 1: the sentence names ketamine; 0: it refers back to it ("the drug", "infusions") */;
        ALTER TABLE claims ADD COLUMN polarity TEXT
            /* positive (effect or risk found), null_or_negative (no effect, no difference), neutral */;
        ALTER TABLE claims ADD COLUMN hedged INTEGER
            /* 1 when the claim is hedged: may, could, suggests, preliminary */;
        ALTER TABLE claims ADD COLUMN study_type TEXT
            /* RCT, meta-analysis, observational, case report, open-label, animal, survey, modelling */;
        ALTER TABLE claims ADD COLUMN sample_size INTEGER
            /* participants, when the sentence or the article's opening states them */;
        ALTER TABLE claims ADD COLUMN form TEXT
            /* IV ketamine, esketamine nasal spray, oral ketamine, IM ketamine, ... when stated */;
        ALTER TABLE claims ADD COLUMN durations_days TEXT
            /* JSON list: every duration in the sentence, in days (two weeks -> 14) */;
        ALTER TABLE claims ADD COLUMN amounts TEXT
            /* JSON list of {"amount": 500.0, "currency": "USD"} for every sum of money */;
        ALTER TABLE claims ADD COLUMN percentages TEXT
            /* JSON list of the percentages in the sentence */;
        CREATE INDEX claims_study_type ON claims(study_type);
        """,
    )


@migration
def m003_corrections(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        ALTER TABLE claims ADD COLUMN secondary TEXT
            /* the runner-up category when its score is high too */;
        ALTER TABLE claims ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0
            /* 1 when the category's probability is below the uncertainty threshold */;
        ALTER TABLE claims ADD COLUMN model_category TEXT
            /* what the model said; category differs from it once a person corrects it */;
        ALTER TABLE claims ADD COLUMN corrected INTEGER NOT NULL DEFAULT 0
            /* 1 when category comes from a person's correction, which reclassifying keeps */;
        UPDATE claims SET model_category = category;
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,        -- correction number
            claim_id TEXT NOT NULL REFERENCES claims(id),  -- the claim corrected
            text TEXT NOT NULL,            -- the sentence, kept so corrections can become training rows
            old_category TEXT NOT NULL,    -- the label before the correction
            new_category TEXT NOT NULL,    -- efficacy, safety, duration, cost, or none (not a claim)
            note TEXT,                     -- why, in the corrector's words
            corrected_by TEXT NOT NULL,    -- who made it
            corrected_at TEXT NOT NULL     -- ISO time, UTC
        );
        CREATE INDEX corrections_claim ON corrections(claim_id);
        """,
    )


@migration
def m004_digests(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        CREATE TABLE digests_sent (
            id INTEGER PRIMARY KEY,        -- send number
            week TEXT NOT NULL,            -- ISO week of the digest, e.g. 2026-W47
            recipients TEXT NOT NULL,      -- sorted, lower-cased addresses, comma-separated
            message_id TEXT NOT NULL,      -- the Message-ID header of the email sent
            claims INTEGER NOT NULL,       -- how many claims it carried
            sent_at TEXT NOT NULL          -- ISO time the SMTP server accepted it, UTC
        );
        CREATE INDEX digests_sent_week ON digests_sent(week, recipients);
        """,
    )


@migration
def m005_service_state(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        CREATE TABLE service_state (
            key TEXT PRIMARY KEY,          -- pid, started, poll_interval, digest_at, next_poll, next_digest
            value TEXT,                    -- its value, as text (times in ISO form, UTC)
            updated_at TEXT NOT NULL       -- when `monitor run` last wrote it, UTC
        );
        """,
    )


@migration
def m006_search_index(db: sqlite_utils.Database) -> None:
    """One full-text index over each claim's sentence and its article's title (claims_fts,
    on the sentence alone, stays for Datasette's table search). No Porter stemming here:
    FTS5 does not stem prefix queries, so "dissociat*" would never meet the stem "dissoci";
    the query builder widens plain words to their prefix instead."""
    run_statements(
        db,
        """
        CREATE VIRTUAL TABLE claims_search USING fts5(
            text,                          -- the claim's sentence
            title,                         -- its article's title
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO claims_search (rowid, text, title)
            SELECT claims.rowid, claims.text, articles.title
            FROM claims JOIN articles ON articles.id = claims.article_id;
        CREATE TRIGGER claims_search_insert AFTER INSERT ON claims BEGIN
            INSERT INTO claims_search (rowid, text, title)
            VALUES (new.rowid, new.text, (SELECT title FROM articles WHERE id = new.article_id));
        END;
        CREATE TRIGGER claims_search_delete AFTER DELETE ON claims BEGIN
            DELETE FROM claims_search WHERE rowid = old.rowid;
        END;
        CREATE TRIGGER claims_search_update AFTER UPDATE OF text ON claims BEGIN
            UPDATE claims_search SET text = new.text WHERE rowid = new.rowid;
        END;
        CREATE INDEX claims_extracted ON claims(extracted_at);
        """,
    )


@migration
def m007_claim_browser(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        CREATE VIEW claim_browser AS
        SELECT
            claims.rowid AS claim_rowid,   -- for full-text search through claims_fts
            claims.id AS claim_id,
            claims.text,
            claims.category,
            round(claims.confidence, 2) AS confidence,
            claims.uncertain,
            claims.polarity,
            claims.study_type,
            claims.sample_size,
            claims.form,
            articles.evidence_tier,
            articles.source,
            articles.title AS article_title,
            articles.url AS article_url,
            substr(COALESCE(articles.published, claims.extracted_at), 1, 10) AS date,
            strftime('%Y-W%W', claims.extracted_at) AS week,
            claims.extracted_at
        FROM claims JOIN articles ON articles.id = claims.article_id
        WHERE claims.category != 'none';
        """,
    )


@migration
def m008_feed_courtesy(db: sqlite_utils.Database) -> None:
    run_statements(
        db,
        """
        ALTER TABLE feeds ADD COLUMN moved_to TEXT
            /* where a 301 said the feed now lives; fetched from there until feeds.txt is updated */;
        ALTER TABLE feeds ADD COLUMN gone_since TEXT
            /* when the feed answered 410 Gone; it is no longer fetched, and reported */;
        ALTER TABLE feeds ADD COLUMN next_attempt TEXT
            /* not fetched before this ISO time: Retry-After, or back-off after failures */;
        ALTER TABLE feeds ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0
            /* fetch attempts made */;
        ALTER TABLE feeds ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0
            /* attempts answered 304 Not Modified (their share is the 304 rate) */;
        """,
    )


@migration
def m009_title_key(db: sqlite_utils.Database) -> None:
    from monitor.ingest.parse import title_key

    run_statements(
        db,
        """
        ALTER TABLE articles ADD COLUMN title_key TEXT
            /* the headline's words without " - Publisher": the same story under another link */;
        CREATE INDEX articles_title_key ON articles(title_key);
        """,
    )
    for row in list(db.execute("SELECT id, title, source FROM articles").fetchall()):
        db.execute("UPDATE articles SET title_key = ? WHERE id = ?", [title_key(row[1], row[2]), row[0]])


@migration
def m010_search_rank(db: sqlite_utils.Database) -> None:
    """Rank by BM25 with the title at half weight as the index's own `rank`, so a search can ask
    the index for its best rows first (ORDER BY rank LIMIT n) instead of scoring every match."""
    db.execute("INSERT INTO claims_search (claims_search, rank) VALUES ('rank', 'bm25(1.0, 0.5)')")


@migration
def m011_stemmed_search(db: sqlite_utils.Database) -> None:
    """Rebuild claims_search with Porter stemming. One term per stem replaces the old widening
    of every plain word to `"word" OR "word"*`, which merged a prefix's doclists for every
    search term and could not skip through them. Prefix terms still work: the query builder
    adds the stems a prefix could have been cut to (monitor.storage.claimsql._prefix)."""
    run_statements(
        db,
        """
        DROP TABLE claims_search;
        CREATE VIRTUAL TABLE claims_search USING fts5(
            text,                          -- the claim's sentence
            title,                         -- its article's title
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        INSERT INTO claims_search (rowid, text, title)
            SELECT claims.rowid, claims.text, articles.title
            FROM claims JOIN articles ON articles.id = claims.article_id;
        INSERT INTO claims_search (claims_search, rank) VALUES ('rank', 'bm25(1.0, 0.5)');
        """,
    )


# The ISO 8601 week of an ISO timestamp, as the digest names weeks ("2026-W48"): the week's
# Thursday decides its year, and its day of the year its number. Plain SQL, so the view reads
# the same in sqlite3, Datasette or any other client (strftime's %V needs SQLite 3.46).
ISO_WEEK_SQL = (
    "strftime('%Y', date({ts}, 'weekday 0', '-3 days')) || '-W' || "
    "printf('%02d', (strftime('%j', date({ts}, 'weekday 0', '-3 days')) - 1) / 7 + 1)"
)


@migration
def m012_browser_search(db: sqlite_utils.Database) -> None:
    """The browser searches claims_search, the index `monitor search` uses (sentence and title,
    stemmed), so claims_fts (sentence only), kept for it, goes; its week is the ISO week."""
    db["claims"].disable_fts()
    run_statements(
        db,
        f"""
        DROP VIEW claim_browser;
        CREATE VIEW claim_browser AS
        SELECT
            claims.rowid AS claim_rowid,   -- for full-text search through claims_search
            claims.id AS claim_id,
            claims.text,
            claims.category,
            round(claims.confidence, 2) AS confidence,
            claims.uncertain,
            claims.polarity,
            claims.study_type,
            claims.sample_size,
            claims.form,
            articles.evidence_tier,
            articles.source,
            articles.title AS article_title,
            articles.url AS article_url,
            substr(COALESCE(articles.published, claims.extracted_at), 1, 10) AS date,
            {ISO_WEEK_SQL.format(ts="claims.extracted_at")} AS week,
            claims.extracted_at
        FROM claims JOIN articles ON articles.id = claims.article_id
        WHERE claims.category != 'none';
        """,
    )


@migration
def m013_article_pages(db: sqlite_utils.Database) -> None:
    """Both texts of an article: the feed's (articles.text, as before) and the main text of the
    page it links to, with where and how that page was read. Claims read from the page have
    unit 'page': their offsets point into page_text."""
    run_statements(
        db,
        """
        ALTER TABLE articles ADD COLUMN page_text TEXT
            /* main text of the linked page (trafilatura), paragraphs separated by a blank line;
               NULL unless page_status is 'ok' */;
        ALTER TABLE articles ADD COLUMN page_url TEXT
            /* the page's address after redirects */;
        ALTER TABLE articles ADD COLUMN page_status TEXT
            /* ok, robots, paywall, too_short, unresolved or error; NULL: no page was wanted */;
        ALTER TABLE articles ADD COLUMN page_reason TEXT
            /* why the page is not read: the robots.txt, the HTTP error, the paywall */;
        ALTER TABLE articles ADD COLUMN page_attempts INTEGER NOT NULL DEFAULT 0
            /* page fetches made */;
        ALTER TABLE articles ADD COLUMN page_fetched TEXT
            /* ISO time of the last page fetch, UTC */;
        ALTER TABLE articles ADD COLUMN page_retry TEXT
            /* after a transient failure (timeout, 5xx): try the page again from this ISO time, UTC
               (1 h, then 2 h, 4 h ... up to page_attempts); NULL: no retry */;
        ALTER TABLE articles ADD COLUMN feed_content INTEGER NOT NULL DEFAULT 0
            /* 1 when the feed item carried full content (content:encoded, Atom content) */;
        CREATE INDEX articles_page_retry ON articles(page_retry) WHERE page_retry IS NOT NULL;
        """,
    )


@migration
def m014_study_links(db: sqlite_utils.Database) -> None:
    """The study each article reports (monitor.language.studies), filled for the articles already held."""
    run_statements(
        db,
        """
        ALTER TABLE articles ADD COLUMN study_doi TEXT
            /* DOI of the study it reports, lower case, no version; a paper's or preprint's own DOI */;
        ALTER TABLE articles ADD COLUMN study_article_id TEXT
            /* the stored paper or preprint it reports (itself, for a paper), when held */;
        ALTER TABLE articles ADD COLUMN study_title TEXT
            /* that paper's title */;
        ALTER TABLE articles ADD COLUMN study_signal TEXT
            /* what decided the link: self, doi, pubmed, nct, metadata; NULL: no link */;
        ALTER TABLE articles ADD COLUMN study_confidence REAL
            /* how sure the link is, 0 to 1 (DOI 1.0; metadata matches from 0.6) */;
        ALTER TABLE articles ADD COLUMN trial_ids TEXT
            /* JSON list of the ClinicalTrials.gov NCT numbers it names */;
        ALTER TABLE articles ADD COLUMN cited TEXT
            /* JSON list of study references in its HTML (item and page), links included: DOIs,
               PubMed/PMC ids, NCT numbers */;
        CREATE INDEX articles_study_doi ON articles(study_doi);
        CREATE INDEX articles_study_article ON articles(study_article_id);
        """,
    )
    from monitor.storage.studylinks import link_studies_in

    link_studies_in(db, None)


@migration
def m015_subscriptions(db: sqlite_utils.Database) -> None:
    """What each subscription has sent to each reader, so nothing reaches a reader twice."""
    run_statements(
        db,
        """
        CREATE TABLE subscriptions (
            name TEXT PRIMARY KEY   -- the [[subscription]] name in config.toml
            , first_seen TEXT NOT NULL   -- when the monitor first read it (UTC)
            , paused TEXT   -- when `monitor subscriptions pause` stopped it; NULL while active
            , last_sent TEXT   -- when its last message was accepted by the mail server
            , last_error TEXT   -- why its last send failed; NULL after a success
            , last_error_at TEXT   -- when that failure happened
        );
        CREATE TABLE subscription_recipients (
            subscription TEXT NOT NULL REFERENCES subscriptions(name)   -- the subscription
            , recipient TEXT NOT NULL   -- an address in its `to`, lower case
            , since TEXT NOT NULL   -- when this reader started: first seen, or resumed (UTC)
            , after_claim INTEGER NOT NULL   -- claims.rowid of the newest claim then: claims
                                             -- stored later (a greater rowid) are new to it
            , PRIMARY KEY (subscription, recipient)
        );
        CREATE TABLE subscription_sent (
            subscription TEXT NOT NULL   -- the subscription that sent it
            , recipient TEXT NOT NULL   -- to whom, lower case
            , claim_id TEXT NOT NULL   -- the claim (claims.id): never sent to this reader again
            , message_id TEXT NOT NULL   -- the Message-ID of the message that carried it
            , sent_at TEXT NOT NULL   -- when the mail server accepted that message (UTC)
            , PRIMARY KEY (subscription, recipient, claim_id)
        ) WITHOUT ROWID;
        """,
    )


# A claim's length in words as the short-first index orders it (words are what BM25 weighs;
# spaces are a close, cheap count of them). Insert and delete must compute the same value.
WORDS_SQL = "(length({t}) - length(replace({t}, ' ', '')) + 1)"


@migration
def m016_short_first_search(db: sqlite_utils.Database) -> None:
    """A second index of claim sentences, ordered shortest first, for words found in very many
    claims: BM25 ranks a common word's matches mostly by sentence length, so its best matches
    are among its shortest, which this index lists without scoring a single match. Contentless
    and without positions (it holds no text, only which words each sentence has); its rowid
    packs the sentence's length in words above the claim's rowid."""
    words_new, words_old = WORDS_SQL.format(t="new.text"), WORDS_SQL.format(t="old.text")
    run_statements(
        db,
        f"""
        CREATE VIRTUAL TABLE claims_short_first USING fts5(
            text,                          -- the claim's sentence (not stored: contentless)
            content = '',
            detail = 'none',
            tokenize = 'porter unicode61 remove_diacritics 2'
        );
        INSERT INTO claims_short_first (rowid, text)
            SELECT ({WORDS_SQL.format(t="text")} << 32) | rowid, text FROM claims;
        CREATE TRIGGER claims_short_first_insert AFTER INSERT ON claims BEGIN
            INSERT INTO claims_short_first (rowid, text) VALUES (({words_new} << 32) | new.rowid, new.text);
        END;
        CREATE TRIGGER claims_short_first_delete AFTER DELETE ON claims BEGIN
            INSERT INTO claims_short_first (claims_short_first, rowid, text)
                VALUES ('delete', ({words_old} << 32) | old.rowid, old.text);
        END;
        CREATE TRIGGER claims_short_first_update AFTER UPDATE OF text ON claims BEGIN
            INSERT INTO claims_short_first (claims_short_first, rowid, text)
                VALUES ('delete', ({words_old} << 32) | old.rowid, old.text);
            INSERT INTO claims_short_first (rowid, text) VALUES (({words_new} << 32) | new.rowid, new.text);
        END;
        """,
    )
