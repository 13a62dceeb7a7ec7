from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import skops.io

from monitor.classify import CARD_FILE, MODEL_FILE, ClaimClassifier, data_fingerprint, train
from monitor.config import default_models_dir
from monitor.errors import ModelError


def test_shipped_model_was_trained_on_the_shipped_data(classifier: ClaimClassifier) -> None:
    """Regenerate explicitly with `make train` whenever models/data changes."""
    card = json.loads((default_models_dir() / CARD_FILE).read_text())
    assert card["data_sha256"] == data_fingerprint(default_models_dir())
    assert classifier.version == card["version"]
    assert card["examples"] >= 1500


# Sentences written for this test, not in the training data.
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Nearly half of the veterans given ketamine were in remission by the end of week two.", "efficacy"),
        ("Three patients needed treatment for dangerously high blood pressure after the infusion.", "safety"),
        ("The antidepressant benefit of a single dose had mostly worn off ten days later.", "duration"),
        ("Her insurer refused to pay for Spravato, leaving a bill of $6,000 for the first month.", "cost"),
    ],
)
def test_clear_cases_are_categorised(classifier: ClaimClassifier, text: str, category: str) -> None:
    (prediction,) = classifier.categorise([text])
    assert prediction.category == category
    assert set(prediction.scores) == {"efficacy", "safety", "duration", "cost"}
    assert abs(sum(prediction.scores.values()) - 1) < 1e-3


def test_detector_separates_claims_from_background(classifier: ClaimClassifier) -> None:
    claim, background = classifier.claim_probability(
        [
            "Ketamine cut suicidal thoughts within a day compared with midazolam in the Boston trial.",
            "Ketamine was first synthesised in 1962 and approved as an anaesthetic in 1970.",
        ]
    )
    assert claim > 0.5 > background


def test_training_is_reproducible_and_loadable(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    rows = []
    for path in sorted((default_models_dir() / "data").glob("*.jsonl")):
        rows += path.read_text().splitlines()[:60]
    (tmp_path / "data" / "sample.jsonl").write_text("\n".join(rows) + "\n")
    first = train(tmp_path, folds=3)
    loaded = ClaimClassifier.load(tmp_path)
    before = loaded.categorise(["Infusions cost $400 each."])
    second = train(tmp_path, folds=3)
    after = ClaimClassifier.load(tmp_path).categorise(["Infusions cost $400 each."])
    assert first == second
    assert before == after
    assert loaded.version == first.version


def test_bad_training_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text(
        '{"text": "a", "label": "efficacy"}\n{"text": "b", "label": "price"}\n'
    )
    with pytest.raises(ModelError, match=r"x.jsonl:2: unknown label 'price'"):
        train(tmp_path)


class Intruder:
    pass


def test_model_files_with_unexpected_types_are_refused(tmp_path: Path) -> None:
    shutil.copy(default_models_dir() / CARD_FILE, tmp_path / CARD_FILE)
    skops.io.dump({"detector": Intruder(), "categoriser": Intruder()}, tmp_path / MODEL_FILE)
    with pytest.raises(ModelError, match=r"unexpected types: \S*Intruder"):
        ClaimClassifier.load(tmp_path)


def test_missing_model_tells_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run `monitor train`"):
        ClaimClassifier.load(tmp_path)
