"""People correcting labels: recorded, shown everywhere, kept by reclassification, learned from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.language.classify import ClaimClassifier
from monitor.language.corrections import as_examples, latest_corrections, reclassify, review_queue
from monitor.language.training import Example, merge_corrections
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("corrections") / "m.db"
    result = CliRunner().invoke(cli, ["once", "--feeds", str(EXAMPLES / "feeds.txt"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def export(db: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_a_correction_is_recorded_shown_and_kept(demo_db: Path, classifier: ClaimClassifier) -> None:
    claims = export(demo_db)
    target = next(c for c in claims if c["category"] != "cost")
    rejected = next(c for c in claims if c["claim_id"] != target["claim_id"])

    result = CliRunner().invoke(
        cli,
        [
            "label",
            target["claim_id"],
            "cost",
            "--note",
            "about prices",
            "--by",
            "editor",
            "--db",
            str(demo_db),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{target['claim_id']}: {target['category']} -> cost (by editor)" in result.output
    CliRunner().invoke(cli, ["label", rejected["claim_id"], "none", "--db", str(demo_db)])

    after = {c["claim_id"]: c for c in export(demo_db)}
    assert after[target["claim_id"]]["category"] == "cost"
    assert after[target["claim_id"]]["corrected"] is True
    assert after[target["claim_id"]]["model_category"] == target["category"]
    assert rejected["claim_id"] not in after  # "not a claim" leaves exports and searches
    found = CliRunner().invoke(
        cli, ["search", target["text"].split()[0], "--db", str(demo_db), "--format", "json"]
    )
    assert all(
        r["category"] == "cost" for r in json.loads(found.output) if r["claim_id"] == target["claim_id"]
    )

    summary = reclassify(demo_db, classifier, uncertain_below=0.6)
    assert summary.kept == 2 and summary.relabelled == len(claims) - 2
    assert {c["claim_id"]: c for c in export(demo_db)}[target["claim_id"]]["category"] == "cost"

    rows = export(demo_db, "--corrections")
    assert sorted((r["label"], r["style"]) for r in rows) == [("cost", "correction"), ("none", "correction")]
    assert {r["text"] for r in rows} == {target["text"], rejected["text"]}


def test_unknown_claims_and_categories_are_one_line_errors(demo_db: Path) -> None:
    result = CliRunner().invoke(cli, ["label", "no-such-claim", "cost", "--db", str(demo_db)])
    assert result.exit_code == 1 and result.output.strip() == "Error: no claim with id 'no-such-claim'"
    result = CliRunner().invoke(cli, ["label", "x", "price", "--db", str(demo_db)])
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_review_walks_uncertain_claims_and_labels_them(demo_db: Path) -> None:
    queue = review_queue(demo_db, days=30)
    assert queue and all(c.uncertain and not c.corrected for c in queue)
    assert [c.confidence for c in queue] == sorted(c.confidence for c in queue)
    result = CliRunner().invoke(cli, ["review", "--db", str(demo_db), "--by", "rev"], input="s\n\nq\n")
    assert result.exit_code == 0, result.output
    assert "1 labelled" in result.output
    remaining = review_queue(demo_db, days=30)
    assert len(remaining) == len(queue) - 1 and queue[0].claim_id not in {c.claim_id for c in remaining}
    assert any(c.corrected_by == "rev" and c.new_category == "safety" for c in latest_corrections(demo_db))


def test_corrections_win_over_shipped_rows_for_the_same_sentence() -> None:
    shipped = [
        Example("Infusions cost $500.", "efficacy", None, "news", None, "a.jsonl"),
        Example("Ketamine relieved symptoms.", "efficacy", None, "news", None, "a.jsonl"),
    ]
    corrections = [Example("Infusions cost $650.", "cost", None, "correction", None, "corrections")]
    merged = merge_corrections(shipped, corrections)  # digits are folded: the same sentence
    assert [(e.text, e.label) for e in merged] == [
        ("Ketamine relieved symptoms.", "efficacy"),
        ("Infusions cost $650.", "cost"),
    ]
    assert as_examples([])[:1] == []
