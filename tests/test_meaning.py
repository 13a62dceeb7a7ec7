"""The sentence vectors the claim models read beside their word features (monitor.language.meaning),
and the whole labelled articles they are trained on (models/data/articles)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor.config import default_models_dir
from monitor.errors import ModelError
from monitor.language.labelled import load_articles
from monitor.language.meaning import encode, load_table, meaning_dir
from monitor.language.steps import SentenceMeaning
from monitor.language.training import article_examples, data_fingerprint


def test_sentences_that_say_the_same_thing_lie_closer_than_unrelated_ones() -> None:
    # Written for this test: three claims, each in two wordings that share few words.
    pairs = [
        (
            "Most patients relapsed within a month of their last infusion.",
            "For the majority, the depression came back within four weeks of stopping.",
        ),
        (
            "Several people fainted and one needed a night in hospital after the dose.",
            "A few patients passed out, and one was admitted overnight following treatment.",
        ),
        (
            "A course of six sessions costs about $3,000 at private clinics.",
            "Six infusions at a private clinic run to roughly three thousand dollars.",
        ),
    ]
    vectors = encode([s for pair in pairs for s in pair])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    similar = vectors @ vectors.T
    same = [similar[2 * i, 2 * i + 1] for i in range(3)]
    other = [similar[i, j] for i in range(6) for j in range(i + 1, 6) if j != i + 1 or i % 2]
    # A static table is a coarse encoder (0.63 against 0.47 here); the models learn which of
    # its dimensions matter.
    assert np.mean(same) > np.mean(other) + 0.1


def test_the_pipeline_step_ignores_feature_marks_and_is_deterministic() -> None:
    step = SentenceMeaning().fit(["x"])
    marked = step.transform(["the infusions lifted her mood __implicit__"]).toarray()
    plain = step.transform(["the infusions lifted her mood"]).toarray()
    assert marked.shape == (1, 256) and np.array_equal(marked, plain)
    assert SentenceMeaning(weight=2.0).transform(["the infusions"]).toarray() == pytest.approx(
        2 * step.transform(["the infusions"]).toarray()
    )
    assert encode([]).shape == (0, 256)


def test_vectors_are_model2vec_s_to_the_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is read without model2vec (its import alone cost 0.3 s of every model load);
    where model2vec is installed (the test extra), its encoder gives the same vectors."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never a model hub
    model2vec = pytest.importorskip("model2vec")
    texts = [
        "Most patients relapsed within a month of their last infusion.",
        "the infusions lifted her mood",
        "",
        "\u00e9t\u00e9 na\u00efve \u4e2d\u6587 \U0001f600 [UNK] ##ing",
        "relapse " * 400,  # cut to max_length tokens
        "x" * 6000,  # cut to max_length times the median token length in characters
    ]
    reference = model2vec.StaticModel.from_pretrained(meaning_dir())
    for batch in (texts, texts[:1], texts[2:]):
        expected = np.asarray(reference.encode(batch, use_multiprocessing=False), dtype=np.float32)
        assert np.array_equal(encode(batch), expected)


def test_missing_vectors_are_a_model_error_not_a_hub_download(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no sentence vectors in"):
        load_table(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a table")
    with pytest.raises(ModelError, match="cannot load the sentence vectors"):
        load_table(tmp_path)


def article(kind: str, title: str, paragraphs: list[list[tuple[str, str | None]]]) -> dict:
    def sentence(text: str, category: str | None) -> dict:
        if category is None:
            return {"text": text, "claim": False}
        return {"text": text, "claim": True, "category": category, "secondary": None,
                "polarity": "positive", "hedged": False}  # fmt: skip

    return {
        "id": f"T-{kind}",
        "kind": kind,
        "source": "test",
        "title": sentence(title, None),
        "paragraphs": [[sentence(t, c) for t, c in p] for p in paragraphs],
    }


def test_article_rows_are_the_sentences_the_extractor_would_hand_over(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "articles"
    folder.mkdir(parents=True)
    about = article(
        "news",
        "Ketamine clinic waits grow",
        [
            [("Infusions lifted her mood within a day, she said.", "efficacy")],
            [("\u201cI felt lighter,\u201d she said.", None), ("Lithium is another option.", None)],
        ],
    )
    passing = article(
        "distractor",
        "New options for depression",
        [[("Psilocybin trials are under way.", None), ("Esketamine costs $900 a month.", "cost")]],
    )
    (folder / "sample.json").write_text(json.dumps([about, passing]))
    rows = article_examples(load_articles(folder, prefix="train"))
    # About ketamine: the title and every sentence that does not name another treatment.
    # Mentioning it in passing: only the sentence that names it. Each as the extractor hands it
    # over, with its place in the article.
    assert [(r.text, r.label, r.style) for r in rows] == [
        ("Ketamine clinic waits grow", "none", "headline"),
        ("Infusions lifted her mood within a day, she said.", "efficacy", "news"),
        ("\u201cI felt lighter,\u201d she said.", "none", "quote"),
        ("Esketamine costs $900 a month.", "cost", "news"),
    ]
    assert {r.article for r in rows} == {"train:sample:T-news", "train:sample:T-distractor"}
    assert {r.origin for r in rows} == {"articles/sample.json"}
    quote = rows[2].sentence
    assert quote is not None and quote.context is not None and quote.context.quote == "inside"
    assert quote.context.previous.startswith("Infusions lifted")


def test_article_files_are_part_of_the_data_fingerprint(tmp_path: Path) -> None:
    shutil.copytree(default_models_dir() / "data", tmp_path / "data")
    before = data_fingerprint(tmp_path)
    path = next((tmp_path / "data" / "articles").glob("*.json"))
    path.write_text(path.read_text().replace('"claim": true', '"claim": false', 1))
    assert data_fingerprint(tmp_path) != before


def test_loading_the_shipped_table_is_silent(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """model2vec reads the folder's README as a model card and complains on stderr when it has no
    metadata block: nothing of that may reach an operator's terminal or log."""
    from monitor.language.meaning import meaning_dir

    load_table.cache_clear()
    load_table(meaning_dir())
    captured = capfd.readouterr()
    assert captured.out == captured.err == "" and caplog.records == []


def test_a_model_kept_elsewhere_reads_the_shipped_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.language.classify import CARD_FILE, MODEL_FILE, ClaimClassifier

    for name in (MODEL_FILE, CARD_FILE):
        shutil.copy(default_models_dir() / name, tmp_path / name)
    monkeypatch.setenv("MONITOR_MODELS", str(tmp_path))  # no meaning/ folder there
    load_table.cache_clear()
    [prediction] = ClaimClassifier.load(default_models_dir()).categorise(["Infusions cost $400 each."])
    assert default_models_dir() == tmp_path and prediction.category == "cost"
