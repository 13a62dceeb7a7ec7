"""What a sentence means, as a dense vector the claim models read beside their word features.

TF-IDF knows only the words it was trained on: "the infusions stopped working after a month"
and "relapse within 30 days" share none. A static embedding model (models/meaning: 256-dimensional
token vectors distilled with model2vec from the all-MiniLM-L6-v2 sentence encoder, see the README
there) gives sentences that say the same thing in other words nearby vectors, at the cost of a
table look-up per token: no neural network runs at prediction time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin

from monitor.errors import ModelError

# The vectors ship with the project: never let model2vec look for them on a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from model2vec import StaticModel

MEANING_DIR = "meaning"


class SentenceMeaning(TransformerMixin, BaseEstimator):
    """A scikit-learn step: sentences in, unit-length meaning vectors (times `weight`) out.

    Holds nothing but its weight: the table is the shipped one (`meaning_dir`), kept out of the
    model file and read once per process however many models use it. `weight` 1.0 puts the
    vector on the same footing as each L2-normalised TF-IDF block beside it."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, texts: Sequence[str], y: object = None) -> SentenceMeaning:
        return self

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        vectors = encode([_without_marks(t) for t in texts])
        return csr_matrix(vectors * self.weight)


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors (float32), one row per text."""
    table = load_table(meaning_dir())
    if not texts:
        return np.zeros((0, table.dim), dtype=np.float32)
    return np.asarray(table.encode(list(texts), use_multiprocessing=False), dtype=np.float32)


def _without_marks(text: str) -> str:
    # The word features' markers ("__implicit__") are not words the encoder knows.
    return " ".join(word for word in text.split() if not (word.startswith("__") and word.endswith("__")))


def meaning_dir() -> Path:
    """The shipped table, whichever models directory the classifier comes from: a model trained
    elsewhere ($MONITOR_MODELS, `models_dir`) still reads the same vectors."""
    from monitor.config import shipped_models_dir

    return shipped_models_dir() / MEANING_DIR


@functools.lru_cache(maxsize=2)
def load_table(folder: Path) -> StaticModel:
    """The vector table in folder, read once per process."""
    if not (folder / "model.safetensors").is_file():
        # model2vec would take a missing folder for the name of a model on a hub.
        raise ModelError(f"no sentence vectors in {folder}")
    try:
        return StaticModel.from_pretrained(folder)
    except Exception as exc:  # a missing or damaged table: say which, not a traceback
        raise ModelError(f"cannot load the sentence vectors in {folder}: {exc}") from exc
