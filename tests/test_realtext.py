"""Real labelled text: pointers into ../shared/corpus, never copies of it."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import default_models_dir
from monitor.errors import ModelError
from monitor.language.realtext import REAL_DIR, SPLITS, default_corpus, load_real, read_records

ROOT = Path(__file__).resolve().parents[1]
RECORD_KEYS = {"file", "id", "kind", "region", "treatment", "labeller", "fixes", "sentences", "sha256"}
SENTENCE_KEYS = {"unit", "start", "end", "label", "why", "about", "polarity", "secondary", "hedged"}
LABELS = {"efficacy", "safety", "duration", "cost", "none"}


def records() -> list[dict]:
    return [r for split in SPLITS for r in read_records(default_models_dir(), split)]


def test_labels_are_pointers_with_no_text_of_their_own() -> None:
    """Offsets and labels only: no field could carry a sentence of the corpus."""
    found = records()
    assert len(found) >= 150
    for record in found:
        assert set(record) <= RECORD_KEYS, record["id"]
        assert record["kind"] in {"news", "press_release", "abstract"}
        assert all(len(term) <= 90 for term in record["treatment"]["terms"])  # names, not sentences
        for sentence in record["sentences"]:
            assert set(sentence) <= SENTENCE_KEYS
            assert sentence["label"] in LABELS and 0 <= sentence["start"] < sentence["end"]
    dev = read_records(default_models_dir(), "dev")
    assert len(dev) >= 60 and sum(r["kind"] != "abstract" for r in dev) >= 30
    assert not {r["id"] for r in dev} & {r["id"] for r in read_records(default_models_dir(), "train")}


SHINGLE = 10  # words


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def test_no_labelled_real_sentence_is_copied_into_the_project() -> None:
    """A real sentence of ten words or more counts as copied when 80% of its ten-word runs stand
    in one project file (shorter runs are shared by honest writing: "approved by the U.S. Food
    and Drug Administration")."""
    corpus = default_corpus()
    if corpus is None:
        pytest.skip("../shared/corpus is not here: the copy check needs the real texts")
    real = [
        g.text
        for split in SPLITS
        for item in load_real(default_models_dir(), corpus, split)
        for g in item.gold
    ]
    sentences = [(text, _shingles(_words(text))) for text in real if len(_words(text)) >= SHINGLE]
    assert len(sentences) > 3000
    project_files = [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and not any(
            part.startswith(".") or part in {"build", "__pycache__"} for part in path.relative_to(ROOT).parts
        )
        and path.suffix
        in {".py", ".md", ".json", ".jsonl", ".txt", ".html", ".xml", ".rdf", ".atom", ".toml", ".cfg"}
        and path.relative_to(ROOT).parts[:2] != ("models", REAL_DIR)
    ]
    wanted = set().union(*(runs for _, runs in sentences))
    where: dict[tuple[str, ...], set[str]] = {}
    for path in project_files:
        for run in _shingles(_words(path.read_text(encoding="utf-8", errors="replace"))) & wanted:
            where.setdefault(run, set()).add(str(path.relative_to(ROOT)))
    copied: dict[str, list[str]] = {}
    for text, runs in sentences:
        files = Counter(name for run in runs for name in where.get(run, ()))
        for name, count in files.items():
            if count >= 0.8 * len(runs):
                copied.setdefault(name, []).append(text[:60])
    assert copied == {}
    # The check finds a copy: a real sentence pasted into a file would be reported.
    text, runs = sentences[0]
    assert len(runs & _shingles(_words(f"Notes. {text} More notes."))) == len(runs)


def test_without_the_corpus_the_real_set_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="shared/corpus, which is not here"):
        load_real(default_models_dir(), None, "dev")
    result = CliRunner().invoke(cli, ["evaluate", "--set", "real", "--corpus", str(tmp_path / "absent")])
    assert result.exit_code == 1 and "no corpus at" in result.output and "Traceback" not in result.output


def test_the_corpus_text_must_be_the_text_that_was_labelled(tmp_path: Path) -> None:
    record = read_records(default_models_dir(), "dev")[0]
    (tmp_path / record["file"]).parent.mkdir(parents=True)
    row = {"id": record["id"], "title": "Something else", "text": "Not the labelled text. " * 400}
    (tmp_path / record["file"]).write_text(json.dumps(row) + "\n")
    with pytest.raises(ModelError, match="not the text that was labelled"):
        load_real(default_models_dir(), tmp_path, "dev")
