"""`monitor evaluate`: the scoring itself (against an oracle that knows the labels) and the
command on both evaluation sets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import default_models_dir
from monitor.language.evaluate import evaluate, load_eval_set
from monitor.language.extract import SentenceExtractor, build_nlp
from monitor.language.labelled import LabelledArticle
from monitor.records import Prediction, Sentence


class Oracle:
    """Answers with the labels: whatever it misses, extraction missed."""

    version = "oracle"

    def __init__(self, articles: list[LabelledArticle], wrong: str | None = None) -> None:
        self.labels = {g.text: g.category for a in articles for g in a.gold if g.category}
        self.wrong = wrong  # answer this category for every claim instead

    def _label(self, text: str) -> str | None:
        return next((c for g, c in self.labels.items() if text in g or g in text), None)

    def claim_probability(self, items: Sequence[Sentence]) -> list[float]:
        return [1.0 if self._label(s.text) else 0.0 for s in items]

    def categorise(self, items: Sequence[Sentence]) -> list[Prediction]:
        labels = [self.wrong or self._label(s.text) or "efficacy" for s in items]
        return [Prediction(c, 1.0, {c: 1.0}, self.version, "neutral", None) for c in labels]


@pytest.fixture(scope="module")
def heldout() -> list[LabelledArticle]:
    return load_eval_set(default_models_dir(), "heldout")


def test_every_labelled_claim_can_be_found_and_is_scored_as_found(heldout: list[LabelledArticle]) -> None:
    report = evaluate(heldout, SentenceExtractor(build_nlp()), Oracle(heldout), 0.5)  # type: ignore[arg-type]
    assert report.gold_claims == 117 and report.extraction.recall == 1.0
    assert report.extraction.precision > 0.98 and report.end_to_end_macro_f1 > 0.98


def test_a_wrong_category_costs_both_categories(heldout: list[LabelledArticle]) -> None:
    report = evaluate(heldout, SentenceExtractor(build_nlp()), Oracle(heldout, wrong="safety"), 0.5)  # type: ignore[arg-type]
    assert report.extraction.recall == 1.0  # found, but all filed under safety
    assert report.end_to_end["efficacy"].f1 == 0.0 and report.end_to_end["safety"].recall == 1.0
    assert report.end_to_end["safety"].precision < 0.4


def test_evaluate_command_reports_on_either_set(tmp_path: Path) -> None:
    errors = tmp_path / "errors.jsonl"
    result = CliRunner().invoke(cli, ["evaluate", "--set", "heldout", "--errors", str(errors)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("heldout evaluation set: 16 articles, 273 sentences, 117 labelled")
    assert "macro F1 (4 categories)" in result.output and "by article kind:" in result.output
    lines = errors.read_text().splitlines()
    assert lines and all(json.loads(line)["error"] in ("missed", "spurious") for line in lines)
    report = json.loads(CliRunner().invoke(cli, ["evaluate", "--json"]).output)
    assert report["gold_claims"] == 325 and 0.5 < report["end_to_end_macro_f1"] < 1.0
