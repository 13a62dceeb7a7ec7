"""People correcting the classifier: labels recorded in the database, the review queue of
uncertain claims, corrections turned into training rows, and reclassification with a new
model that keeps what people decided.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from monitor.errors import QueryError
from monitor.language.classify import NOT_A_CLAIM, ClaimClassifier
from monitor.language.training import Example
from monitor.records import CATEGORIES, ClaimFilter, Correction, StoredClaim
from monitor.storage.store import Store

CHOICES = (*CATEGORIES, NOT_A_CLAIM)


def current_user() -> str:
    """Who is correcting: $MONITOR_USER, else the login name."""
    try:
        return os.environ.get("MONITOR_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def label_claim(
    db_path: Path, claim_id: str, category: str, note: str | None = None, by: str | None = None
) -> Correction:
    if category not in CHOICES:
        raise QueryError(f"category must be one of {', '.join(CHOICES)}, not {category!r}")
    with Store(db_path) as store:
        return store.correct(claim_id, category, note, by or current_user())


def review_queue(db_path: Path, days: int) -> list[StoredClaim]:
    """Uncertain, uncorrected claims stored in the last `days` days, least sure first."""
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with Store(db_path, readonly=True) as store:
        claims = list(store.iter_claims(ClaimFilter(uncertain_only=True, stored_since=since)))
    return sorted(claims, key=lambda c: c.confidence)


def latest_corrections(db_path: Path) -> list[Correction]:
    """The last word on each sentence (a claim corrected twice counts once, as last labelled)."""
    if not db_path.exists():
        return []
    with Store(db_path, readonly=True) as store:
        latest = {c.text: c for c in store.corrections()}
    return list(latest.values())


def as_examples(corrections: list[Correction]) -> list[Example]:
    return [Example(c.text, c.new_category, None, "correction", None, "corrections") for c in corrections]


def export_corrections(db_path: Path, out: TextIO) -> int:
    """Write corrections as training rows (the models/data format), one JSON object a line."""
    rows = 0
    for c in latest_corrections(db_path):
        row = {"text": c.text, "label": c.new_category, "secondary": None, "style": "correction",
               "corrected_by": c.corrected_by, "corrected_at": c.corrected_at, "note": c.note}  # fmt: skip
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        rows += 1
    return rows


@dataclass(frozen=True)
class ReclassifySummary:
    relabelled: int  # claims whose stored verdict now comes from the new model
    changed: int  # of those, how many changed category
    kept: int  # claims left alone because a person corrected them
    model_version: str


def reclassify(
    db_path: Path, classifier: ClaimClassifier, uncertain_below: float, batch: int = 256
) -> ReclassifySummary:
    """Run every stored claim through a new model; corrected claims keep their label."""
    relabelled = changed = kept = 0
    with Store(db_path) as store:
        claims = list(store.iter_claims(ClaimFilter(include_rejected=True)))
        for chunk in _chunks(claims, batch):
            for claim, prediction in zip(chunk, classifier.categorise([c.text for c in chunk]), strict=True):
                if claim.corrected:
                    kept += 1
                    continue
                store.relabel(claim.claim_id, prediction, prediction.confidence < uncertain_below)
                relabelled += 1
                changed += prediction.category != claim.category
    return ReclassifySummary(relabelled, changed, kept, classifier.version)


def _chunks(items: list[StoredClaim], size: int) -> Iterator[list[StoredClaim]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
