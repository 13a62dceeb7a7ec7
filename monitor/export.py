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
from monitor.store import Store

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
FORMATS = ("jsonl", "csv", "json")


def claim_record(claim: StoredClaim) -> dict[str, Any]:
    record = {name: getattr(claim, name) for name in EXPORT_FIELDS if name not in ATTRIBUTE_FIELDS}
    record |= {name: getattr(claim.attributes, name) for name in ATTRIBUTE_FIELDS}
    record["amounts"] = [{"amount": m.amount, "currency": m.currency} for m in claim.attributes.amounts]
    for name in ("mentions", "feed_urls", "durations_days", "percentages"):
        record[name] = list(record[name])
    return {name: record[name] for name in EXPORT_FIELDS}


def write_claims(claims: Iterable[StoredClaim], fmt: str, out: TextIO, total: int | None = None) -> int:
    """Stream claims to out in the given format; returns how many were written. With a total,
    the first line says how many rows follow (the export's promise to spreadsheets and scripts)."""
    count = 0
    if fmt == "csv":
        if total is not None:
            out.write(f"# {total} claims\n")
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for claim in claims:
            record = claim_record(claim)
            for key in JSON_FIELDS:
                record[key] = json.dumps(record[key], ensure_ascii=False)
            writer.writerow(record)
            count += 1
    elif fmt == "jsonl":
        if total is not None:
            out.write(json.dumps({"count": total, "fields": list(EXPORT_FIELDS)}) + "\n")
        for claim in claims:
            out.write(json.dumps(claim_record(claim), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        # Written item by item, so memory stays flat however many claims there are. With a total:
        # {"count": N, "claims": [...]}; without (search results): a plain list.
        out.write(f'{{"count": {total}, "claims": [' if total is not None else "[")
        for claim in claims:
            out.write(("," if count else "") + "\n  " + json.dumps(claim_record(claim), ensure_ascii=False))
            count += 1
        out.write(("\n" if count else "") + ("]}\n" if total is not None else "]\n"))
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count


def export_claims(db_path: Path, fmt: str, out: TextIO, filters: ClaimFilter = ALL_CLAIMS) -> int:
    """Every claim that passes the filters, streamed from a cursor, counted first."""
    with Store(db_path, readonly=True) as store:
        return write_claims(store.iter_claims(filters), fmt, out, total=store.count_claims(filters))


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
        head = f"{number}. {claim.category} ({claim.confidence:.2f})  {date}  {claim.source}"
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
