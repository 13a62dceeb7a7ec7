"""Prediction for the compiled claim models: numpy (and mmh3) only, no scikit-learn.

A compiled pipeline is its feature blocks (monitor.language.vectorize) and a calibrated logistic
regression: the decision function X @ coef.T + intercept, then per class the sigmoid calibration
expit(-(a * score + b)), normalised to sum to one. Each step performs the floating-point
operations of the scikit-learn objects it was compiled from (monitor.language.compile), in the same
order, so the probabilities are identical, not merely close (tests/test_runtime.py checks it).

`build` turns a manifest and its arrays (monitor.language.artifact) into pipelines, refusing
anything it does not expect: unknown keys or kinds, missing or extra arrays, wrong shapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.errors import ModelError
from monitor.language.vectorize import Analyzer, Block, Counts, HashedTfidf, Meaning, Rows, add_in_order

FORMAT = "monitor-claim-models"
FORMAT_VERSION = 1


def _expit(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), as scipy.special.expit computes it: with the C library's exp, which
    math.exp calls (numpy's own exp may be a SIMD version that differs in the last bit)."""

    def one(v: float) -> float:
        try:
            return 1.0 / (1.0 + math.exp(-v))
        except OverflowError:  # exp(-v) is infinite: expit is 0
            return 0.0

    return np.array([one(v) for v in x.tolist()], dtype=np.float64)


@dataclass(frozen=True)
class FeatureSet:
    """A ColumnTransformer: blocks side by side, each reading one column of model input."""

    blocks: tuple[Block, ...]

    @property
    def width(self) -> int:
        return sum(block.width for block in self.blocks)

    def transform(self, rows: np.ndarray) -> list[Rows]:
        return [block.transform(list(rows[:, block.column])) for block in self.blocks]


@dataclass(frozen=True)
class CalibratedLinear:
    """LogisticRegression inside CalibratedClassifierCV(method="sigmoid", ensemble=False)."""

    classes: tuple[str, ...]
    coef_t: np.ndarray  # (features, outputs): coef_ transposed, one contiguous row per feature
    intercept: np.ndarray  # (outputs,)
    a: np.ndarray  # (outputs,): one sigmoid calibrator per output
    b: np.ndarray

    def decision_function(self, blocks: list[Rows], widths: list[int]) -> np.ndarray:
        n = len(blocks[0].indptr) - 1
        scores = np.zeros((n, self.coef_t.shape[1]))
        offset = 0
        # scipy's sparse @ dense adds each row's terms in turn, across the blocks side by side.
        for rows, width in zip(blocks, widths, strict=True):
            add_in_order(scores, rows.indptr, self._terms(rows, offset))
            offset += width
        return scores + self.intercept

    def _terms(self, rows: Rows, offset: int) -> Callable[[np.ndarray], np.ndarray]:
        """Stored values times their features' coefficients, one column per output."""
        columns = rows.indices + offset
        return lambda at: rows.data[at, None] * self.coef_t.take(columns[at], axis=0)

    def predict_proba(self, blocks: list[Rows], widths: list[int]) -> np.ndarray:
        scores = self.decision_function(blocks, widths)
        n_classes = len(self.classes)
        proba = np.zeros((scores.shape[0], n_classes))
        # Binary: one output, for the second class; the first is its complement.
        columns = [1] if n_classes == 2 else range(n_classes)
        for output, column in enumerate(columns):
            proba[:, column] = _expit(-(self.a[output] * scores[:, output] + self.b[output]))
        if n_classes == 2:
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            denominator = np.sum(proba, axis=1)[:, np.newaxis]
            uniform = np.full_like(proba, 1 / n_classes)  # where every calibrator said 0
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


@dataclass(frozen=True)
class CompiledPipeline:
    """Features then model: predict_proba as the fitted scikit-learn Pipeline computes it."""

    features: FeatureSet
    model: CalibratedLinear

    @property
    def classes(self) -> tuple[str, ...]:
        return self.model.classes

    def predict_proba(self, rows: np.ndarray, blocks: list[Rows] | None = None) -> np.ndarray:
        """Probabilities for rows of model input; `blocks`: their features, if already computed."""
        if blocks is None:
            blocks = self.features.transform(rows)
        return self.model.predict_proba(blocks, [block.width for block in self.features.blocks])


# --- building pipelines from a manifest, strictly ---------------------------------------------


def _fields(obj: Any, where: str, spec: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    """obj as a dict with exactly spec's keys, each of one of its types (None: NoneType)."""
    if not isinstance(obj, dict):
        raise ModelError(f"{where}: expected an object")
    if set(obj) != set(spec):
        unknown, missing = sorted(set(obj) - set(spec)), sorted(set(spec) - set(obj))
        raise ModelError(f"{where}: unexpected keys {unknown}, missing {missing}")
    for key, types in spec.items():
        value = obj[key]
        # bool is an int in Python: accept it only where a bool is asked for.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ModelError(f"{where}: {key} has type {type(value).__name__}")
    return obj


_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))
_ANALYZER = {
    "analyzer": (str,),
    "ngram_range": (list,),
    "lowercase": (bool,),
    "token_pattern": (str, type(None)),
}
_BLOCKS: dict[str, dict[str, tuple[type, ...]]] = {
    "hashed_tfidf": {
        "kind": (str,), "name": (str,), "column": (int,), **_ANALYZER, "n_features": (int,),
        "sublinear_tf": (bool,), "norm": (str, type(None)), "weight": _OPTIONAL_NUMBER,
    },
    "counts": {
        "kind": (str,), "name": (str,), "column": (int,), **_ANALYZER, "vocabulary": (list,),
        "binary": (bool,), "weight": _OPTIONAL_NUMBER,
    },
    "meaning": {
        "kind": (str,), "name": (str,), "column": (int,), "dim": (int,), "scale": _NUMBER,
        "weight": _OPTIONAL_NUMBER,
    },
}  # fmt: skip
_MODEL = {"features": (str,), "classes": (list,)}
_TOP = {"format": (str,), "format_version": (int,), "feature_sets": (dict,), "models": (dict,)}
MODEL_ARRAYS = ("coef_t", "intercept", "sigmoid_a", "sigmoid_b")


def _array(arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...], used: set[str]) -> np.ndarray:
    if name not in arrays:
        raise ModelError(f"missing array {name}")
    array = arrays[name]
    if array.dtype != np.float64 or array.shape != shape:
        raise ModelError(f"array {name}: expected float64 {shape}, found {array.dtype} {array.shape}")
    if not np.isfinite(array).all():
        raise ModelError(f"array {name} holds values that are not finite")
    used.add(name)
    return array


def _analyzer(spec: dict[str, Any], where: str) -> Analyzer:
    ngrams = spec["ngram_range"]
    if not (len(ngrams) == 2 and all(type(n) is int for n in ngrams) and 1 <= ngrams[0] <= ngrams[1]):
        raise ModelError(f"{where}: bad ngram_range {ngrams}")
    kind, pattern = spec["analyzer"], spec["token_pattern"]
    if kind == "word":
        if pattern is None:
            raise ModelError(f"{where}: a word analyzer needs a token_pattern")
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise ModelError(f"{where}: bad token_pattern: {exc}") from None
        if groups > 1:
            raise ModelError(f"{where}: token_pattern has more than one group")
    elif kind != "char_wb" or pattern is not None:
        raise ModelError(f"{where}: unsupported analyzer {kind!r}")
    return Analyzer(kind, (ngrams[0], ngrams[1]), spec["lowercase"], pattern)


def _block(spec: Any, where: str, prefix: str, arrays: Mapping[str, np.ndarray], used: set[str],
           columns: int, meaning_dim: int) -> Block:  # fmt: skip
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in _BLOCKS:
        raise ModelError(f"{where}: unknown block kind {kind!r}")
    spec = _fields(spec, where, _BLOCKS[kind])
    where = f"{where} ({spec['name']})"
    if not 0 <= spec["column"] < columns:
        raise ModelError(f"{where}: no column {spec['column']}")
    weight = None if spec["weight"] is None else float(spec["weight"])
    if kind == "hashed_tfidf":
        n = spec["n_features"]
        if not 0 < n < 2**31 or spec["norm"] not in ("l2", None):
            raise ModelError(f"{where}: bad n_features or norm")
        idf = _array(arrays, f"{prefix}.{spec['name']}.idf", (n,), used)
        analyzer = _analyzer(spec, where)
        return HashedTfidf(
            spec["column"], analyzer, n, idf, spec["sublinear_tf"], spec["norm"] == "l2", weight
        )
    if kind == "counts":
        terms = spec["vocabulary"]
        if not all(isinstance(t, str) for t in terms) or len(set(terms)) != len(terms):
            raise ModelError(f"{where}: the vocabulary must be distinct strings")
        vocabulary = {term: i for i, term in enumerate(terms)}
        return Counts(spec["column"], _analyzer(spec, where), vocabulary, spec["binary"], weight)
    if spec["dim"] != meaning_dim:
        raise ModelError(
            f"{where}: trained on {spec['dim']}-dimensional vectors, the table has {meaning_dim}"
        )
    return Meaning(spec["column"], spec["dim"], float(spec["scale"]), weight)


def build(
    manifest: Any, arrays: Mapping[str, np.ndarray], columns: int, meaning_dim: int
) -> dict[str, CompiledPipeline]:
    """The pipelines a manifest describes, sharing feature sets as the manifest shares them."""
    manifest = _fields(manifest, "manifest", _TOP)
    if manifest["format"] != FORMAT or manifest["format_version"] != FORMAT_VERSION:
        raise ModelError(f"not a {FORMAT} v{FORMAT_VERSION} manifest")
    used: set[str] = set()
    feature_sets = {}
    for name, blocks in manifest["feature_sets"].items():
        if not isinstance(blocks, list) or not blocks:
            raise ModelError(f"feature set {name}: expected a list of blocks")
        built = [
            _block(spec, f"feature set {name}, block {i}", name, arrays, used, columns, meaning_dim)
            for i, spec in enumerate(blocks)
        ]
        if len({spec["name"] for spec in blocks}) != len(blocks):
            raise ModelError(f"feature set {name}: block names repeat")
        feature_sets[name] = FeatureSet(tuple(built))
    pipelines = {}
    for name, spec in manifest["models"].items():
        spec = _fields(spec, f"model {name}", _MODEL)
        classes = spec["classes"]
        if (
            len(classes) < 2
            or len(set(classes)) != len(classes)
            or not all(isinstance(c, str) for c in classes)
        ):
            raise ModelError(f"model {name}: classes must be two or more distinct strings")
        if spec["features"] not in feature_sets:
            raise ModelError(f"model {name}: no feature set {spec['features']!r}")
        features = feature_sets[spec["features"]]
        outputs = 1 if len(classes) == 2 else len(classes)
        coef_t, intercept, a, b = (
            _array(
                arrays, f"{name}.{part}", (features.width, outputs) if part == "coef_t" else (outputs,), used
            )
            for part in MODEL_ARRAYS
        )
        pipelines[name] = CompiledPipeline(
            features, CalibratedLinear(tuple(classes), coef_t, intercept, a, b)
        )
    extra = sorted(set(arrays) - used)
    if extra:
        raise ModelError(f"unexpected arrays: {', '.join(extra)}")
    return pipelines
