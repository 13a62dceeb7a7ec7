"""`monitor serve`: the claim database in Datasette, read-only, with titles, descriptions,
facets, full-text search and the canned queries researchers ask for.

Search in the browser reads a query exactly as `monitor search` does: same index
(claims_search: sentence and title, stemmed), same query builder (every word quoted, ketamine
expanded to its forms, "phrases" and prefix*). A small Datasette plugin registers that builder
as the SQL function monitor_query(), and as escape_fts(), the function Datasette's own table
search passes the search box through.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from monitor.delivery.atom import ENTRY_ID
from monitor.errors import ConfigError, StoreError
from monitor.storage.claimsql import SEARCH_RANK
from monitor.storage.store import Store

CLAIM_COLUMNS = {
    "claim_id": "Stable id of the claim (also its row in the claims table)",
    "text": "The sentence, as it stands in the article",
    "category": "efficacy, safety, duration or cost (a person's correction where there is one)",
    "confidence": "The classifier's probability for that category",
    "uncertain": "1 when the classifier was unsure: shown apart in the digest",
    "polarity": "positive (effect or risk found), null_or_negative, or neutral",
    "study_type": "RCT, meta-analysis, observational, case report, open-label, animal, survey, modelling",
    "sample_size": "Participants, when stated",
    "form": "Form or route: IV ketamine, esketamine nasal spray, oral ketamine, ...",
    "evidence_tier": "preprint, peer-reviewed, press release, regulator or news",
    "source": "Publisher or feed",
    "article_title": "Title of the article the sentence comes from",
    "article_url": "Link to the article",
    "date": "The article's date (or when the claim was stored)",
    "week": "ISO week the claim was stored, as the digest names weeks (2026-W48; in UTC, where the "
    "digest uses the configured timezone)",
}

QUERIES = {
    "search": {
        "title": "Search claims",
        "description": "Best match first, as `monitor search` ranks them: words are all required and "
        'stemmed, "ketamine" also finds esketamine, arketamine and the brand names, "double quotes" '
        "make a phrase, word* is a prefix. Matches are in [brackets].",
        "sql": (
            "SELECT claim_browser.claim_id, highlight(claims_search, 0, '[', ']') AS text, "
            "claim_browser.category, claim_browser.confidence, claim_browser.uncertain, "
            "claim_browser.evidence_tier, claim_browser.source, claim_browser.date, "
            "claim_browser.article_title, claim_browser.article_url "
            "FROM claims_search JOIN claim_browser ON claim_browser.claim_rowid = claims_search.rowid "
            f"WHERE claims_search MATCH monitor_query(:q) ORDER BY {SEARCH_RANK} LIMIT 200"
        ),
    },
    "claims_feed": {
        "title": "Ketamine claims feed",
        "description": "Newest claims first, for a feed reader: add .atom to this page's address "
        "(category, evidence_tier and q, the search words, narrow it; empty means any). Entry ids are "
        "those of `monitor export --format atom`.",
        "sql": (
            f"SELECT '{ENTRY_ID}' || claims.id AS atom_id, "
            "monitor_entry_title(claims.category, claims.text) AS atom_title, "
            "claims.extracted_at AS atom_updated, "
            "monitor_entry_html(claims.text, articles.source, articles.title, articles.url, "
            "COALESCE(articles.published, claims.extracted_at), articles.evidence_tier, claims.category, "
            "claims.confidence) AS atom_content_html, "
            "COALESCE(CASE WHEN articles.url LIKE 'http%' THEN articles.url END, "
            "'urn:ketamine-monitor:article:' || articles.id) AS atom_link, "
            "articles.source AS atom_author_name, claims.category, articles.evidence_tier "
            "FROM claims JOIN articles ON articles.id = claims.article_id "
            "WHERE claims.category != 'none' "
            "AND (:category = '' OR claims.category = :category) "
            "AND (:evidence_tier = '' OR articles.evidence_tier = :evidence_tier) "
            "AND (:q = '' OR claims.rowid IN "
            "(SELECT rowid FROM claims_search WHERE claims_search MATCH monitor_query(:q))) "
            "ORDER BY claims.extracted_at DESC, claims.rowid DESC LIMIT 500"
        ),
    },
    "coverage_of_a_study": {
        "title": "Coverage of a study",
        "description": "A paper's or preprint's own claims and every claim from the stories and press "
        "releases that report it: give its DOI (10.1101/...) or its article id.",
        "sql": (
            "SELECT claim_browser.date, claim_browser.category, claim_browser.text, claim_browser.source, "
            "claim_browser.evidence_tier, claim_browser.article_title, claim_browser.article_url, "
            "articles.study_signal, articles.study_confidence "
            "FROM claim_browser JOIN claims ON claims.id = claim_browser.claim_id "
            "JOIN articles ON articles.id = claims.article_id "
            "WHERE articles.study_doi = lower(:study) OR articles.study_article_id = :study "
            "OR articles.id = :study ORDER BY claim_browser.date"
        ),
    },
    "claims_per_category_per_week": {
        "title": "Claims per category per week",
        "description": "New claims by the week they were stored.",
        "sql": (
            "SELECT week, category, count(*) AS claims FROM claim_browser "
            "GROUP BY week, category ORDER BY week DESC, category"
        ),
    },
    "safety_last_30_days": {
        "title": "Safety claims of the last 30 days",
        "description": "Dated by the article, newest first.",
        "sql": (
            "SELECT date, text, source, article_title, article_url, evidence_tier, study_type, confidence "
            "FROM claim_browser WHERE category = 'safety' AND date >= date('now', '-30 days') "
            "ORDER BY date DESC"
        ),
    },
    "cost_claims_with_amounts": {
        "title": "Cost claims with their amounts",
        "description": "One row per sum of money stated in a cost claim.",
        "sql": (
            "SELECT claim_browser.date, json_extract(amount.value, '$.amount') AS amount, "
            "json_extract(amount.value, '$.currency') AS currency, claim_browser.text, claim_browser.source, "
            "claim_browser.article_url FROM claim_browser JOIN claims ON claims.id = claim_browser.claim_id, "
            "json_each(claims.amounts) AS amount WHERE claim_browser.category = 'cost' "
            "ORDER BY claim_browser.date DESC, amount DESC"
        ),
    },
    "claims_reported_by_several_outlets": {
        "title": "Claims reported by several outlets",
        "description": "The same sentence from more than one source, or an article carried by several feeds.",
        "sql": (
            "SELECT text, category, count(DISTINCT source) AS outlets, "
            "group_concat(DISTINCT source) AS sources, min(date) AS first_date FROM claim_browser "
            "GROUP BY lower(text) HAVING count(DISTINCT source) > 1 "
            "UNION ALL "
            "SELECT claims.text, claims.category, count(DISTINCT article_feeds.feed_url) AS outlets, "
            "group_concat(DISTINCT article_feeds.feed_url) AS sources, min(articles.published) AS first_date "
            "FROM claims JOIN articles ON articles.id = claims.article_id "
            "JOIN article_feeds ON article_feeds.article_id = articles.id WHERE claims.category != 'none' "
            "GROUP BY claims.id HAVING count(DISTINCT article_feeds.feed_url) > 1 "
            "ORDER BY outlets DESC, first_date DESC"
        ),
    },
}


def metadata(database: str) -> dict[str, Any]:
    return {
        "title": "Ketamine claim monitor",
        "description": "Claims about ketamine in depression found in news and preprint feeds, "
        "sorted under efficacy, safety, duration and cost.",
        "databases": {
            database: {
                "tables": {
                    "claim_browser": {
                        "title": "Claims",
                        "description": "Every claim with its article: search, facet and filter here.",
                        "columns": CLAIM_COLUMNS,
                        "facets": ["category", "evidence_tier", "source", "week"],
                        "fts_table": "claims_search",
                        "fts_pk": "claim_rowid",
                        "sort_desc": "date",
                        "label_column": "text",
                    },
                    "claims": {
                        "description": "Claims as stored; the digest links to rows here.",
                        "facets": ["category", "uncertain"],
                        "label_column": "text",
                    },
                    "articles": {
                        "description": "One row per article, from any feed.",
                        "label_column": "title",
                    },
                    "feeds": {"description": "Every feed and its health.", "label_column": "title"},
                    "article_feeds": {"description": "Which feeds carried which article."},
                    "corrections": {"description": "People's corrections of claim categories."},
                    "runs": {"description": "One row per pass over the feeds."},
                    "digests_sent": {"description": "Each weekly digest sent."},
                },
                "queries": QUERIES,
            }
        },
    }


def register_plugin() -> None:
    """Teach Datasette the monitor's query builder (once per process)."""
    from datasette.plugins import pm

    from monitor.delivery import web_plugin

    if not pm.is_registered(web_plugin):
        pm.register(web_plugin, name="ketamine-monitor")


def serve(db_path: Path, host: str, port: int) -> None:
    """Run Datasette on the database until interrupted. Needs the `web` extra."""
    try:
        from datasette import cli as datasette_cli
    except ImportError:
        raise ConfigError("monitor serve needs Datasette: pip install 'ketamine-monitor[web]'") from None
    register_plugin()
    if not db_path.exists():
        raise StoreError(str(db_path), "no such database; run `monitor once` first")
    Store(db_path).close()  # bring the schema up to date before serving it read-only
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(metadata(db_path.stem), handle)
    datasette_cli.serve.main(
        [
            str(db_path),
            "--host",
            host,
            "--port",
            str(port),
            "--metadata",
            handle.name,
            "--setting",
            "default_page_size",
            "50",
            "--setting",
            "allow_download",
            "off",
        ],
        standalone_mode=True,
    )
