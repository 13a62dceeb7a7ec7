"""Compiling fitted scikit-learn pipelines into the model file's manifest and arrays, at training
time, so that prediction (monitor.language.runtime) needs neither scikit-learn nor skops.

Only the shapes training builds are accepted (monitor.language.training: a ColumnTransformer of
hashed TF-IDF blocks, a fixed-vocabulary count block and the meaning step, then a logistic
regression with sigmoid calibration); any other step or option is refused here rather than
predicted differently later.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from monitor.errors import ModelError
from monitor.language import runtime
from monitor.language.meaning import load_table, meaning_dir
from monitor.language.steps import SentenceMeaning

# Vectorizer options the runtime does not implement: each must keep its default.
_DEFAULTS = {"input": "content", "preprocessor": None, "tokenizer": None, "stop_words": None,
             "strip_accents": None}  # fmt: skip


def compile_models(models: dict[str, Pipeline]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest and arrays of fitted pipelines. Pipelines sharing one fitted
    ColumnTransformer (categoriser and polarity) share one feature set."""
    manifest: dict[str, Any] = {
        "format": runtime.FORMAT,
        "format_version": runtime.FORMAT_VERSION,
        "feature_sets": {},
        "models": {},
    }
    arrays: dict[str, np.ndarray] = {}
    set_of: dict[int, str] = {}
    for name, pipeline in models.items():
        if not isinstance(pipeline, Pipeline) or [s for s, _ in pipeline.steps] != ["features", "model"]:
            raise ModelError(f"{name}: expected a Pipeline of features and model")
        features = pipeline.named_steps["features"]
        if id(features) not in set_of:
            set_of[id(features)] = name
            manifest["feature_sets"][name], width = _feature_set(features, name, arrays)
        else:
            width = sum(_width(b) for b in manifest["feature_sets"][set_of[id(features)]])
        classes = _model(pipeline.named_steps["model"], name, width, arrays)
        manifest["models"][name] = {"features": set_of[id(features)], "classes": classes}
    return manifest, arrays


def _width(block: dict[str, Any]) -> int:
    return {"hashed_tfidf": lambda: block["n_features"], "counts": lambda: len(block["vocabulary"]),
            "meaning": lambda: block["dim"]}[block["kind"]]()  # fmt: skip


def _feature_set(
    features: Any, set_name: str, arrays: dict[str, np.ndarray]
) -> tuple[list[dict[str, Any]], int]:
    if not isinstance(features, ColumnTransformer) or not features.sparse_output_:
        # A dense ColumnTransformer output takes another matrix product (BLAS), not reproduced.
        raise ModelError(f"{set_name}: expected a fitted ColumnTransformer with sparse output")
    if features.remainder != "drop":
        raise ModelError(f"{set_name}: remainder columns must be dropped")
    weights = features.transformer_weights or {}
    blocks = []
    for name, step, column in features.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        if not isinstance(column, int):
            raise ModelError(f"{set_name}.{name}: expected one column by number, found {column!r}")
        weight = float(weights[name]) if name in weights else None
        block = {"name": name, "column": column, "weight": weight, **_block(step, f"{set_name}.{name}")}
        if block["kind"] == "hashed_tfidf":
            arrays[f"{set_name}.{name}.idf"] = np.asarray(step.named_steps["tfidf"].idf_, dtype=np.float64)
        blocks.append(block)
    return blocks, sum(_width(b) for b in blocks)


def _block(step: Any, where: str) -> dict[str, Any]:
    if isinstance(step, Pipeline) and [type(s) for _, s in step.steps] == [
        HashingVectorizer,
        TfidfTransformer,
    ]:
        hasher, tfidf = (s for _, s in step.steps)
        if hasher.alternate_sign or hasher.norm is not None or hasher.binary or hasher.dtype != np.float64:
            raise ModelError(f"{where}: hashing must be unsigned raw float64 counts")
        if not tfidf.use_idf or tfidf.norm not in ("l2", None):
            raise ModelError(f"{where}: TF-IDF needs idf and an l2 norm or none")
        return {"kind": "hashed_tfidf", **_analyzer(hasher, where), "n_features": int(hasher.n_features),
                "sublinear_tf": bool(tfidf.sublinear_tf), "norm": tfidf.norm}  # fmt: skip
    if type(step) is CountVectorizer:
        terms = sorted(step.vocabulary_, key=step.vocabulary_.__getitem__)
        if [step.vocabulary_[t] for t in terms] != list(range(len(terms))):
            raise ModelError(f"{where}: vocabulary indices are not 0..n-1")
        return {"kind": "counts", **_analyzer(step, where), "vocabulary": terms, "binary": bool(step.binary)}
    if type(step) is SentenceMeaning:
        return {"kind": "meaning", "dim": load_table(meaning_dir()).dim, "scale": float(step.weight)}
    raise ModelError(f"{where}: cannot compile a {type(step).__name__}")


def _analyzer(vectorizer: Any, where: str) -> dict[str, Any]:
    params = vectorizer.get_params()
    changed = sorted(k for k, v in _DEFAULTS.items() if params[k] != v)
    if changed or vectorizer.analyzer not in ("word", "char_wb"):
        raise ModelError(f"{where}: unsupported vectorizer options {changed or vectorizer.analyzer}")
    word = vectorizer.analyzer == "word"
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": [int(n) for n in vectorizer.ngram_range],
        "lowercase": bool(vectorizer.lowercase),
        "token_pattern": vectorizer.token_pattern if word else None,
    }


def _model(model: Any, name: str, width: int, arrays: dict[str, np.ndarray]) -> list[str]:
    if not isinstance(model, CalibratedClassifierCV) or model.method != "sigmoid":
        raise ModelError(f"{name}: expected CalibratedClassifierCV(method='sigmoid')")
    if len(model.calibrated_classifiers_) != 1:
        raise ModelError(f"{name}: expected ensemble=False (one calibrated classifier)")
    calibrated = model.calibrated_classifiers_[0]
    estimator = calibrated.estimator
    if type(estimator) is not LogisticRegression:
        raise ModelError(f"{name}: expected a LogisticRegression, found {type(estimator).__name__}")
    classes = [str(c) for c in model.classes_]
    # Calibrator k belongs to class k only when the estimator saw every class, in the same order.
    if [str(c) for c in estimator.classes_] != classes or classes != sorted(classes):
        raise ModelError(f"{name}: the estimator's classes differ from the calibrated model's")
    outputs = 1 if len(classes) == 2 else len(classes)
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    if coef.shape != (outputs, width) or len(calibrated.calibrators) != outputs:
        raise ModelError(f"{name}: coefficients {coef.shape} do not fit {outputs} outputs x {width} features")
    if not all(type(c) is _SigmoidCalibration for c in calibrated.calibrators):
        raise ModelError(f"{name}: expected sigmoid calibrators")
    intercept = np.broadcast_to(np.asarray(estimator.intercept_, dtype=np.float64), (outputs,))
    arrays[f"{name}.coef_t"] = np.ascontiguousarray(coef.T)
    arrays[f"{name}.intercept"] = np.array(intercept)
    arrays[f"{name}.sigmoid_a"] = np.array([c.a_ for c in calibrated.calibrators], dtype=np.float64)
    arrays[f"{name}.sigmoid_b"] = np.array([c.b_ for c in calibrated.calibrators], dtype=np.float64)
    return classes
