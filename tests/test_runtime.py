"""The compiled models (monitor.language.compile, runtime, artifact): the same probabilities as
the scikit-learn pipelines they come from, bit for bit, and a model file that loads strictly."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from monitor.config import default_models_dir
from monitor.errors import ModelError
from monitor.language import artifact, runtime
from monitor.language.classify import CARD_FILE, MODEL_FILE, ClaimClassifier
from monitor.language.compile import compile_models
from monitor.language.features import COLUMNS, model_rows
from monitor.language.meaning import load_table, meaning_dir
from monitor.language.training import Example, TrainingSets, build_pipeline, fit_models
from monitor.language.vectorize import Analyzer, buckets

# Written for this test: eight sentences per label, polarity where it is a claim.
LABELLED = {
    "efficacy": [
        ("Ketamine halved depression scores within a day in the trial.", "positive"),
        ("Two thirds of patients responded to the first infusion.", "positive"),
        ("The nasal spray did no better than placebo after four weeks.", "null_or_negative"),
        ("Suicidal thoughts eased within hours of a single dose of ketamine.", "positive"),
        ("Remission rates were higher with ketamine than with ECT.", "positive"),
        ("Ketamine showed no benefit over midazolam in older adults.", "null_or_negative"),
        ("Mood scores improved by 12 points on average after ketamine.", "positive"),
        ("Patients on esketamine reported feeling better by the second week.", "neutral"),
    ],
    "safety": [
        ("Blood pressure rose sharply in a tenth of those given ketamine.", "positive"),
        ("Dissociation faded within two hours of each ketamine session.", "neutral"),
        ("Long-term ketamine use damaged the bladder in heavy users.", "positive"),
        ("No serious adverse events were seen with ketamine in the study.", "null_or_negative"),
        ("Nausea was the most common side effect of the ketamine infusions.", "positive"),
        ("Regulators warned that ketamine can be misused and abused.", "neutral"),
        ("Ketamine did not raise the risk of psychosis in the cohort.", "null_or_negative"),
        ("Three people fainted after their ketamine dose.", "positive"),
    ],
    "duration": [
        ("The benefit of ketamine faded after about a week.", "positive"),
        ("Most patients relapsed within a month of their last ketamine dose.", "positive"),
        ("Maintenance doses of esketamine kept depression away for a year.", "positive"),
        ("Ketamine's effect lasted no longer than placebo's at day 28.", "null_or_negative"),
        ("Relapse was delayed by weekly ketamine sessions.", "positive"),
        ("Gains from ketamine were still seen six months later.", "positive"),
        ("Without boosters the ketamine response wore off in ten days.", "positive"),
        ("Time to relapse did not differ between ketamine and saline.", "null_or_negative"),
    ],
    "cost": [
        ("A course of ketamine infusions costs about $3,000.", "neutral"),
        ("Insurers rarely pay for ketamine clinics.", "neutral"),
        ("Esketamine costs $900 a month before insurance.", "neutral"),
        ("Medicare now covers the ketamine nasal spray.", "neutral"),
        ("Ketamine was cheaper per remission than ECT in the model.", "positive"),
        ("Clinics charge $500 for each ketamine session.", "neutral"),
        ("Patients paid out of pocket for ketamine at private clinics.", "neutral"),
        ("The health service will fund ketamine for resistant depression.", "neutral"),
    ],
    "none": [
        ("Ketamine was first made in 1962.", None),
        ("Ketamine blocks NMDA receptors in the brain.", None),
        ("The trial will enrol 200 adults with depression.", None),
        ("She first heard about ketamine from a friend.", None),
        ("More research on ketamine is needed, the authors said.", None),
        ("The clinic opened on Main Street last spring.", None),
        ("Ketamine is also used as an anaesthetic by vets.", None),
        ("Participants were randomised to ketamine or midazolam.", None),
    ],
}
UNSEEN = [
    "Ketamine lifted mood within hours.",
    "Infusions cost $450 each and insurers rarely pay.",
    "The effect was gone after two weeks.",
    "Dizziness and raised blood pressure were common.",
    "Ketamine was approved as an anaesthetic in 1970.",
    "",
    "a",
    "Ketamine  ketamine\tKETAMINE \u00e9t\u00e9 na\u00efve \u4e2d\u6587 \U0001f600 64% $600 e.g. U.S.-based",
    "x" * 700,
]


@pytest.fixture(scope="module")
def fitted() -> dict:
    examples = [
        Example(text, label, None, "test", polarity, "test.jsonl")
        for label, rows in LABELLED.items()
        for text, polarity in rows
    ]
    return fit_models(TrainingSets.of(examples))


def compiled(models: dict) -> dict[str, runtime.CompiledPipeline]:
    manifest, arrays = compile_models(models)
    # Through JSON, as the file holds it.
    return runtime.build(json.loads(json.dumps(manifest)), arrays, COLUMNS, load_table(meaning_dir()).dim)


def test_compiled_models_give_the_same_probabilities_bit_for_bit(fitted: dict) -> None:
    models = compiled(fitted)
    texts = [text for rows in LABELLED.values() for text, _ in rows] + UNSEEN
    rows = model_rows(texts)
    assert set(models) == {"detector", "categoriser", "polarity"}
    assert models["polarity"].features is models["categoriser"].features  # shared, as in training
    for name, pipeline in fitted.items():
        assert list(models[name].classes) == [str(c) for c in pipeline.classes_]
        for batch in (rows, rows[-len(UNSEEN) :], rows[:1]):
            expected = pipeline.predict_proba(batch)
            assert np.array_equal(models[name].predict_proba(batch), expected), name


def test_a_binary_model_compiles_to_the_same_probabilities() -> None:
    texts = [text for rows in LABELLED.values() for text, _ in rows]
    labels = ["claim" if label != "none" else "none" for label, rows in LABELLED.items() for _ in rows]
    rows = model_rows(texts + UNSEEN)
    pipeline = build_pipeline(8.0, context=True).fit(rows[: len(texts)], labels)
    model = compiled({"detector": pipeline})["detector"]
    assert np.array_equal(model.predict_proba(rows), pipeline.predict_proba(rows))


@pytest.mark.parametrize(
    "options",
    [
        {"analyzer": "char_wb", "ngram_range": (2, 5)},
        {"analyzer": "char_wb", "ngram_range": (4, 6)},
        {"analyzer": "word", "ngram_range": (1, 2)},
        {"analyzer": "word", "ngram_range": (2, 3), "lowercase": False},
        {"analyzer": "word", "token_pattern": r"\S+", "lowercase": False},
    ],
)
def test_analyzers_cut_text_as_scikit_learn_does(options: dict) -> None:
    reference = HashingVectorizer(**options).build_analyzer()
    ngram_range = options.get("ngram_range", (1, 1))
    pattern = options.get("token_pattern", r"(?u)\b\w\w+\b") if options["analyzer"] == "word" else None
    mine = Analyzer(options["analyzer"], ngram_range, options.get("lowercase", True), pattern)
    for text in [*UNSEEN, "a b  c\u00a0d\n\ne", " edge  spaces ", "I am OK."]:
        assert mine(text) == reference(text)


def test_the_most_negative_hash_lands_where_scikit_learn_puts_it() -> None:
    # scikit-learn special-cases -2**31 (abs() of it overflows an int32).
    for n in (2**15, 2**16, 1000):
        assert buckets(np.array([-(2**31), -5, 7], dtype=np.int64), n).tolist() == [
            (2147483647 - (n - 1)) % n,
            5 % n,
            7 % n,
        ]


def test_prediction_imports_neither_scikit_learn_nor_skops(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from monitor.config import default_models_dir\n"
        "from monitor.language.classify import ClaimClassifier, classify_texts\n"
        "classify_texts(ClaimClassifier.load(default_models_dir()), ['Ketamine lifted mood within hours.'])\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'skops', 'model2vec') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_model_file_is_a_plain_npz() -> None:
    with np.load(default_models_dir() / MODEL_FILE, allow_pickle=False) as archive:
        assert archive.files[0] == "manifest.json"
        assert all(archive[name].dtype == np.float64 for name in archive.files[1:])


# --- strict loading ---------------------------------------------------------------------------


def shipped() -> tuple[dict, dict[str, np.ndarray]]:
    _, manifest, arrays = artifact.load(default_models_dir() / MODEL_FILE)
    return manifest, dict(arrays)


def build(manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    runtime.build(manifest, arrays, COLUMNS, load_table(meaning_dir()).dim)


def test_the_shipped_manifest_builds() -> None:
    build(*shipped())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, a: m.update(extra=1), r"manifest: unexpected keys \['extra'\]"),
        (lambda m, a: m["feature_sets"]["detector"][0].update(kind="pickle"), "unknown block kind 'pickle'"),
        (
            lambda m, a: m["feature_sets"]["detector"][0].update(stop_words=["a"]),
            r"unexpected keys \['stop_words'\]",
        ),
        (
            lambda m, a: m["feature_sets"]["detector"][1].update(analyzer="char"),
            "unsupported analyzer 'char'",
        ),
        (lambda m, a: m["feature_sets"]["detector"][0].update(column=7), "no column 7"),
        (lambda m, a: m["models"]["detector"].update(classes=["a"]), "two or more distinct strings"),
        (lambda m, a: m.update(format_version=2), "not a monitor-claim-models v1 manifest"),
        (lambda m, a: a.update({"detector.words.idf": a["detector.words.idf"][:10]}), "expected float64"),
        (
            lambda m, a: a.update({"detector.intercept": a["detector.intercept"].astype(np.float32)}),
            "float32",
        ),
        (lambda m, a: a.update({"surprise": np.zeros(3)}), "unexpected arrays: surprise"),
        (lambda m, a: a.pop("polarity.sigmoid_b"), "missing array polarity.sigmoid_b"),
    ],
)
def test_unexpected_manifests_and_arrays_are_refused(change, message: str) -> None:  # type: ignore[no-untyped-def]
    manifest, arrays = shipped()
    change(manifest, arrays)
    with pytest.raises(ModelError, match=message):
        build(manifest, arrays)


def copy_card(folder: Path, version: str) -> None:
    card = json.loads((default_models_dir() / CARD_FILE).read_text())
    (folder / CARD_FILE).write_text(json.dumps({**card, "version": version}))


def test_files_with_pickled_or_unknown_members_are_refused(tmp_path: Path) -> None:
    manifest, arrays = shipped()
    path = tmp_path / MODEL_FILE
    copy_card(tmp_path, artifact.save(manifest, arrays, path)[:12])
    assert ClaimClassifier.load(tmp_path).categorise(["Infusions cost $400 each."])[0].category == "cost"

    def rewrite(name: str, data: bytes) -> None:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(name, data)
        copy_card(tmp_path, artifact.file_sha256(path)[:12])

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    rewrite("evil.npy", buffer.getvalue())
    with pytest.raises(ModelError, match=r"evil.npy: expected little-endian float64.*object"):
        ClaimClassifier.load(tmp_path)

    artifact.save(manifest, arrays, path)
    rewrite("notes.txt", b"hello")
    with pytest.raises(ModelError, match=r"unexpected member notes\.txt"):
        ClaimClassifier.load(tmp_path)

    path.write_bytes(b"PK\x03\x04 not really a zip")
    copy_card(tmp_path, artifact.file_sha256(path)[:12])
    with pytest.raises(ModelError, match="cannot load"):
        ClaimClassifier.load(tmp_path)


def test_the_file_is_written_the_same_way_every_time(tmp_path: Path) -> None:
    manifest, arrays = shipped()
    first = artifact.save(manifest, arrays, tmp_path / "a.npz")
    assert artifact.save(manifest, dict(reversed(arrays.items())), tmp_path / "b.npz") == first
    assert first == artifact.file_sha256(default_models_dir() / MODEL_FILE)
