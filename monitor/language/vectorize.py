"""The claim models' feature blocks, computed without scikit-learn: the same numbers, in the same
order, as the fitted scikit-learn steps they were compiled from (monitor.language.compile).

Every block turns one column of model input (monitor.language.features) into sparse rows laid out
as scipy lays out a CSR matrix: each row's values in column order. Keeping that layout is what
makes the results bit for bit the same: floating-point sums depend on their order, so the
l2 norms and the models' dot products (monitor.language.runtime) add each row's values one at a
time, first to last, as scikit-learn's and scipy's compiled loops do.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mmh3
import numpy as np

from monitor.language import meaning

# scikit-learn's HashingVectorizer: runs of whitespace become one space before char n-grams.
_WHITE_SPACES = re.compile(r"\s\s+")
# Rows summed at once by add_in_order: its scratch array is rows x longest row x classes.
_CHUNK = 256


@dataclass(frozen=True)
class Rows:
    """Sparse rows: row i holds values data[indptr[i]:indptr[i + 1]] at columns indices[...]."""

    data: np.ndarray  # float64
    indices: np.ndarray  # int64
    indptr: np.ndarray  # int64, one more than there are rows

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)


def add_in_order(total: np.ndarray, indptr: np.ndarray, terms: Callable[[np.ndarray], np.ndarray]) -> None:
    """total[i] += each term of row i, one after the other in stored order: the summation order
    of scipy's csr_matvecs and of scikit-learn's l2 row norms (numpy's sums are pairwise, which
    rounds differently). `terms(at)` gives the terms at flat positions `at` of the rows.

    Rows of similar length are laid side by side after their starting totals and added up with
    np.add.accumulate, sequential by definition; a few hundred rows at a time keep the padded
    scratch array small."""
    starts, lengths = indptr[:-1], np.diff(indptr)
    order = np.argsort(lengths, kind="stable")
    for first in range(0, len(order), _CHUNK):
        rows = order[first : first + _CHUNK]
        length = lengths[rows]
        n = len(rows)
        row_of = np.repeat(np.arange(n), length)
        position = np.arange(len(row_of)) - np.repeat(np.cumsum(length) - length, length)
        padded = np.zeros((n, int(length.max(initial=0)) + 1, *total.shape[1:]))
        padded[:, 0] = total[rows]
        padded[row_of, position + 1] = terms(np.repeat(starts[rows], length) + position)
        total[rows] = np.add.accumulate(padded, axis=1)[np.arange(n), length]


def buckets(hashes: np.ndarray, n_features: int) -> np.ndarray:
    """The column of each signed 32-bit hash: abs(hash) % n_features, as scikit-learn's
    _hashing_fast computes it. In int64, abs(-2**31) is defined, and gives what scikit-learn's
    special case for it (an int32 there) gives."""
    return np.abs(hashes.astype(np.int64)) % n_features


def _rows_from_ids(ids: list[np.ndarray], counts: list[np.ndarray]) -> Rows:
    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    indptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    data = np.concatenate(counts).astype(np.float64) if ids else np.zeros(0)
    indices = np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)
    return Rows(data, indices, indptr)


@dataclass(frozen=True)
class Analyzer:
    """Text to n-grams, as scikit-learn's vectorizers analyse it (no stop words, no accent
    stripping, str input: the only options the compiler accepts)."""

    kind: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    lowercase: bool
    token_pattern: str | None  # words only

    def __post_init__(self) -> None:
        if self.kind == "word":
            object.__setattr__(self, "_pattern", re.compile(str(self.token_pattern)))

    def __call__(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.kind == "word":
            return self._word_ngrams(self._pattern.findall(text))  # type: ignore[attr-defined]
        return self._char_wb_ngrams(text)

    def _word_ngrams(self, tokens: list[str]) -> list[str]:
        low, high = self.ngram_range
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def _char_wb_ngrams(self, text: str) -> list[str]:
        """Character n-grams inside each word padded with a space at both ends; a word shorter
        than n gives itself once (padded), and then no longer n-grams."""
        low, high = self.ngram_range
        grams: list[str] = []
        for word in _WHITE_SPACES.sub(" ", text).split():
            word = f" {word} "
            length = len(word)
            if length < low:
                grams.append(word)
            else:
                grams += [
                    word[i : i + n] for n in range(low, min(high, length) + 1) for i in range(length - n + 1)
                ]
        return grams


@dataclass(frozen=True)
class HashedTfidf:
    """HashingVectorizer (no sign alternation, no norm) then TfidfTransformer, in one block."""

    column: int
    analyzer: Analyzer
    n_features: int
    idf: np.ndarray  # float64, n_features
    sublinear_tf: bool
    l2: bool
    weight: float | None  # the ColumnTransformer's weight for the block

    @property
    def width(self) -> int:
        return self.n_features

    def transform(self, texts: Sequence[str]) -> Rows:
        n = self.n_features
        grams = [self.analyzer(text) for text in texts]
        # MurmurHash3 (32-bit, seed 0, signed) of each n-gram's UTF-8, as scikit-learn hashes.
        hashes = np.fromiter(map(mmh3.hash, itertools.chain.from_iterable(grams)), dtype=np.int64)
        text_of = np.repeat(np.arange(len(texts), dtype=np.int64), [len(g) for g in grams])
        # Duplicates summed, columns sorted within each row: csr sum_duplicates.
        keys, counts = np.unique(text_of * n + buckets(hashes, n), return_counts=True)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // n, minlength=len(texts)), out=indptr[1:])
        rows = Rows(counts.astype(np.float64), keys % n, indptr)
        data = rows.data
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1.0
        data *= self.idf[rows.indices]
        if self.l2:
            _normalise_l2(rows)
        if self.weight is not None:
            data *= self.weight
        return rows


def _normalise_l2(rows: Rows) -> None:
    """Each row divided by its Euclidean length (rows of zeros left alone), in place."""
    data = rows.data
    squares = np.zeros(len(rows.indptr) - 1)
    add_in_order(squares, rows.indptr, lambda at: data[at] * data[at])
    norms = np.sqrt(squares)
    norms[squares == 0.0] = 1.0
    data /= np.repeat(norms, rows.lengths)  # in place: the frozen Rows keeps the same array


@dataclass(frozen=True)
class Counts:
    """CountVectorizer with a fixed vocabulary (the context marks): term counts, or 1 with binary."""

    column: int
    analyzer: Analyzer
    vocabulary: dict[str, int]
    binary: bool
    weight: float | None

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def transform(self, texts: Sequence[str]) -> Rows:
        ids, counts = [], []
        for text in texts:
            found: dict[int, int] = {}
            for term in self.analyzer(text):
                index = self.vocabulary.get(term)
                if index is not None:
                    found[index] = found.get(index, 0) + 1
            order = sorted(found)
            ids.append(np.array(order, dtype=np.int64))
            counts.append(np.array([1 if self.binary else found[i] for i in order], dtype=np.int64))
        rows = _rows_from_ids(ids, counts)
        if self.weight is not None:
            data = rows.data
            data *= self.weight
        return rows


@dataclass(frozen=True)
class Meaning:
    """The sentence's meaning vector (monitor.language.meaning), times `scale`, nonzeros kept.
    Computed in float32 like the scikit-learn step, widened to float64 when stacked."""

    column: int
    dim: int
    scale: float  # the step's own weight
    weight: float | None

    @property
    def width(self) -> int:
        return self.dim

    def transform(self, texts: Sequence[str]) -> Rows:
        vectors = meaning.encode([meaning.without_marks(t) for t in texts]) * self.scale
        nonzero = vectors != 0  # the step's csr_matrix keeps nonzeros only, before any weight
        values = vectors[nonzero]
        if self.weight is not None:
            values = values * self.weight
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(nonzero.sum(axis=1), out=indptr[1:])
        return Rows(values.astype(np.float64), np.nonzero(nonzero)[1].astype(np.int64), indptr)


Block = HashedTfidf | Counts | Meaning
