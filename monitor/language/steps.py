"""The project's own scikit-learn step, used in training only (prediction runs the compiled
models, monitor.language.runtime, without scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence

from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin

from monitor.language.meaning import encode, without_marks


class SentenceMeaning(TransformerMixin, BaseEstimator):
    """Sentences in, unit-length meaning vectors (monitor.language.meaning) times `weight` out.

    Holds nothing but its weight: the table is the shipped one, kept out of the model file and
    read once per process however many models use it. `weight` 1.0 puts the vector on the same
    footing as each L2-normalised TF-IDF block beside it."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, texts: Sequence[str], y: object = None) -> SentenceMeaning:
        return self

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        vectors = encode([without_marks(t) for t in texts])
        return csr_matrix(vectors * self.weight)
