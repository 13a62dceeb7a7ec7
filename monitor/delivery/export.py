"""Claims out of the database and into files and terminals: CSV, JSON Lines, JSON, tables."""

from __future__ import annotations

import csv
import json
import shutil
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from monitor.records import ALL_CLAIMS, ClaimFilter, StoredClaim
from monitor.storage.store import Store

EXPORT_FIELDS = (
    "claim_id",
    "text",
    "category",
    "confidence",
    "secondary",
    "uncertain",
    "corrected",
    "model_category",
    "claim_score",
    "scores",
    "mentions",
    "article_title",
    "article_url",
    "source",
    "published",
    "doi",
    "feed_url",
    "feed_urls",
    "article_id",
    "study_doi",
    "study_article_id",
    "study_title",
    "unit",
    "start",
    "end",
    "model_version",
    "extracted_at",
    "evidence_tier",
    "explicit",
    "polarity",
    "hedged",
    "study_type",
    "sample_size",
    "form",
    "durations_days",
    "amounts",
    "percentages",
)
ATTRIBUTE_FIELDS = ("polarity", "hedged", "study_type", "sample_size", "form", "durations_days", "amounts",
                    "percentages")  # fmt: skip
JSON_FIELDS = ("scores", "mentions", "feed_urls", "durations_days", "amounts", "percentages")
FORMATS = ("jsonl", "csv", "json", "atom")


def claim_record(claim: StoredClaim) -> dict[str, Any]:
    record = {name: getattr(claim, name) for name in EXPORT_FIELDS if name not in ATTRIBUTE_FIELDS}
    record |= {name: getattr(claim.attributes, name) for name in ATTRIBUTE_FIELDS}
    record["amounts"] = [{"amount": m.amount, "currency": m.currency} for m in claim.attributes.amounts]
    for name in ("mentions", "feed_urls", "durations_days", "percentages"):
        record[name] = list(record[name])
    return {name: record[name] for name in EXPORT_FIELDS}


def write_claims(claims: Iterable[StoredClaim], fmt: str, out: TextIO, *, bom: bool = False) -> int:
    """Stream claims to out, each format as its own readers expect it, nothing else in the
    stream: CSV (RFC 4180: one header row, CRLF line ends, nested values as JSON text in their
    cells), JSON Lines (one claim object per line) or JSON (one array of claim objects, written
    item by item so memory stays flat). Returns how many claims were written."""
    count = 0
    if bom:
        out.write("\ufeff")  # Excel reads a CSV as UTF-8 only with a byte-order mark
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for claim in claims:
            record = claim_record(claim)
            for key in JSON_FIELDS:
                record[key] = json.dumps(record[key], ensure_ascii=False)
            writer.writerow(record)
            count += 1
    elif fmt == "jsonl":
        for claim in claims:
            out.write(json.dumps(claim_record(claim), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for claim in claims:
            out.write(("," if count else "") + "\n  " + json.dumps(claim_record(claim), ensure_ascii=False))
            count += 1
        out.write(("\n" if count else "") + "]\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def export_claims(
    db_path: Path,
    fmt: str,
    out: TextIO,
    filters: ClaimFilter = ALL_CLAIMS,
    *,
    bom: bool = False,
    base_url: str | None = None,
) -> int:
    """Every claim that passes the filters, streamed from a cursor; returns how many."""
    with Store(db_path, readonly=True) as store:
        if fmt == "atom":
            from monitor.delivery.atom import write_atom

            return write_atom(
                store.iter_claims(filters), out, filters, store.latest_stored(filters), base_url
            )
        return write_claims(store.iter_claims(filters), fmt, out, bom=bom)


def count_claims(db_path: Path, filters: ClaimFilter = ALL_CLAIMS) -> int:
    """How many claims an export with these filters would write."""
    with Store(db_path, readonly=True) as store:
        return store.count_claims(filters)


def search_claims(db_path: Path, query: str, filters: ClaimFilter) -> list[StoredClaim]:
    with Store(db_path, readonly=True) as store:
        return store.search(query, filters)


def write_search(results: list[StoredClaim], fmt: str, out: TextIO) -> None:
    if fmt == "table":
        out.write(format_table(results))
    else:
        write_claims(results, fmt, out)


def format_table(results: list[StoredClaim], width: int | None = None) -> str:
    """One block per hit: the sentence with matches in [brackets], then category, date,
    source and link, wrapped to the terminal width."""
    if not results:
        return "no claims found\n"
    width = width or shutil.get_terminal_size((100, 24)).columns
    width = max(40, min(width, 160))
    blocks = []
    for number, claim in enumerate(results, 1):
        date = (claim.published or claim.extracted_at or "")[:10]
        # Uncertain claims are listed, not hidden, so search and export agree; the mark says
        # the category is the model's guess and has not been confirmed.
        mark = ", uncertain" if claim.uncertain and not claim.corrected else ""
        head = f"{number}. {claim.category} ({claim.confidence:.2f}{mark})  {date}  {claim.source}"
        body = textwrap.fill(
            claim.highlighted or claim.text,
            width=width,
            initial_indent="   ",
            subsequent_indent="   ",
        )
        title = textwrap.shorten(claim.article_title or "(untitled)", width - 3, placeholder=" ...")
        blocks.append(f"{head}\n{body}\n   {title}\n   {claim.article_url or claim.article_id}")
    return "\n\n".join(blocks) + "\n"


def read_lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        line = line.strip()
        if line:
            yield line
