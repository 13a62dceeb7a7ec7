from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from monitor.config import default_models_dir
from monitor.errors import ModelError
from monitor.language.classify import CARD_FILE, MODEL_FILE, ClaimClassifier
from monitor.language.training import (
    Example,
    TrainingSets,
    data_fingerprint,
    fit_and_save,
    load_examples,
    merge_corrections,
    train,
)
from monitor.records import CATEGORIES


def test_shipped_model_was_trained_on_the_shipped_data(classifier: ClaimClassifier) -> None:
    """Regenerate explicitly with `make train` whenever models/data changes."""
    card = json.loads((default_models_dir() / CARD_FILE).read_text())
    assert card["data_sha256"] == data_fingerprint(default_models_dir())
    assert classifier.version == card["version"]
    assert (
        classifier.version
        == hashlib.sha256((default_models_dir() / MODEL_FILE).read_bytes()).hexdigest()[:12]
    )
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


def sample_of_the_data(folder: Path) -> list[str]:
    """The first 24 rows of every data file: every label, a few seconds to train."""
    (folder / "data").mkdir()
    rows = []
    for path in sorted((default_models_dir() / "data").glob("*.jsonl")):
        rows += path.read_text().splitlines()[:24]
    (folder / "data" / "sample.jsonl").write_text("\n".join(rows) + "\n")
    return rows


@pytest.mark.slow  # 35 s: two full fits and a cross-validation; CI runs it (make reliability)
def test_training_is_reproducible_loadable_and_takes_corrections(tmp_path: Path) -> None:
    rows = sample_of_the_data(tmp_path)
    shipped = json.loads(rows[0])
    fix = "cost" if shipped["label"] != "cost" else "safety"
    corrections = [Example(shipped["text"], fix, None, "correction", None, "corrections")]

    report = train(tmp_path, corrections, folds=2, jobs=1)
    model_bytes = (tmp_path / MODEL_FILE).read_bytes()
    card = json.loads((tmp_path / CARD_FILE).read_text())
    loaded = ClaimClassifier.load(tmp_path)
    assert loaded.categorise(["Infusions cost $400 each."])[0].category in CATEGORIES
    assert loaded.version == report.version == hashlib.sha256(model_bytes).hexdigest()[:12]
    assert report.corrections == 1 and report.examples == len(rows)  # the correction replaced its row
    assert 0 < report.claim_f1 <= 1 and set(report.category_f1) == set(CATEGORIES)
    assert card["version"] == report.version and card["corpus"] is False
    assert card["data_sha256"] == data_fingerprint(tmp_path, corrections) != data_fingerprint(tmp_path)

    # The same data gives the same file, bit for bit, in this process and in any other: nothing
    # in the file may hold a memory address (id()).
    sets = TrainingSets.of(merge_corrections(load_examples(tmp_path), corrections))
    assert fit_and_save(sets, tmp_path / "again.npz") == report.version
    assert (tmp_path / "again.npz").read_bytes() == model_bytes


def test_bad_training_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text(
        '{"text": "a", "label": "efficacy"}\n{"text": "b", "label": "price"}\n'
    )
    with pytest.raises(ModelError, match=r"x.jsonl:2: unknown label 'price'"):
        train(tmp_path)


def test_missing_model_tells_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run `monitor train`"):
        ClaimClassifier.load(tmp_path)


def test_training_data_is_independent_of_the_evaluation_set() -> None:
    """No training sentence may be a copy or a close rewording of an evaluation sentence."""
    from monitor.language.evaluate import load_eval_set
    from monitor.language.training import load_examples

    gold = [
        g.text
        for name in ("dev", "heldout")
        for item in load_eval_set(default_models_dir(), name)
        for g in item.gold
    ]
    near = near_copies(gold)
    assert near(gold[5]) == gold[5]  # the check itself can find a copy
    leaks = [(e.origin, e.text, near(e.text)) for e in load_examples(default_models_dir()) if near(e.text)]
    assert leaks == []


def near_copies(sentences: list[str]) -> Callable[[str], str | None]:
    """A function giving the sentence a text nearly copies (half its words shared, and 75%
    alike character by character), or None."""

    def words(text: str) -> set[str]:
        return set(re.findall(r"\w+", text.lower()))

    sets = [words(s) for s in sentences]
    index: dict[str, set[int]] = {}
    for i, ws in enumerate(sets):
        for w in ws:
            index.setdefault(w, set()).add(i)
    # Words found in many sentences say nothing about copying and make the search slow.
    rare = {w: ids for w, ids in index.items() if len(ids) < 40}

    def near(text: str) -> str | None:
        mine = words(text)
        for i in {i for w in mine for i in rare.get(w, ())}:
            if len(mine & sets[i]) / len(mine | sets[i]) >= 0.5 and (
                SequenceMatcher(None, text.lower(), sentences[i].lower()).ratio() >= 0.75
            ):
                return sentences[i]
        return None

    return near
