"""The claim classifier: is this ketamine sentence a claim, and about what?

Two scikit-learn pipelines trained from the hand-labelled sentences in
models/data/*.jsonl: a claim detector (claim vs not a claim) and a category
model (efficacy, safety, duration, cost). They are saved with skops, never
pickle, and loaded with an explicit list of trusted types.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn
import skops.io
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from monitor import attributes
from monitor.errors import ModelError
from monitor.lexicon import KETAMINE_RE
from monitor.records import CATEGORIES, Prediction

NOT_A_CLAIM = "none"
POLARITIES = ("positive", "null_or_negative", "neutral")
LABELS = (*CATEGORIES, NOT_A_CLAIM)
MODEL_FILE = "classifier.skops"
CARD_FILE = "model-card.json"
DATA_GLOB = "data/*.jsonl"
SEED = 20261126
# Part of the model version: change it whenever features or training change.
RECIPE = "tfidf-word12-char25+logreg-v2-polarity"

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Example:
    """One labelled sentence from models/data."""

    text: str
    label: str
    secondary: str | None
    style: str
    polarity: str | None
    origin: str  # file name it came from


def normalise(text: str) -> str:
    """What the models see: digits collapsed (the size of a number matters less than its
    presence, "$600" and "64%" are the signal) and every ketamine form as one word."""
    text = KETAMINE_RE.sub(" ketamine ", text)
    return _NUMBER.sub("0", text.lower())


def load_examples(models_dir: Path) -> list[Example]:
    files = sorted(models_dir.glob(DATA_GLOB))
    if not files:
        raise ModelError(f"no training data in {models_dir / 'data'}")
    examples: list[Example] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = row["label"]
                text = row["text"].strip()
            except (json.JSONDecodeError, KeyError, AttributeError) as exc:
                raise ModelError(f"{path.name}:{number}: bad training row ({exc})") from exc
            if label not in LABELS:
                raise ModelError(f"{path.name}:{number}: unknown label {label!r}")
            examples.append(
                Example(
                    text,
                    label,
                    row.get("secondary"),
                    row.get("style", "unknown"),
                    row.get("polarity"),
                    path.name,
                )
            )
    return examples


def data_fingerprint(models_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(models_dir.glob(DATA_GLOB)):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pipeline(c: float) -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            ),
        ]
    )
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=SEED)
    return Pipeline([("features", features), ("model", model)])


def _drop_stop_words(pipeline: Pipeline) -> None:
    """stop_words_ lists every n-gram that min_df pruned: tens of megabytes that prediction
    never reads (scikit-learn documents it as safe to delete before saving)."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        vectorizer.stop_words_ = None


@dataclass(frozen=True)
class TrainingReport:
    version: str
    examples: int
    label_counts: dict[str, int]
    claim_f1: float  # cross-validated F1 of the claim detector (claim = positive)
    category_macro_f1: float  # cross-validated macro F1 over the four categories
    category_f1: dict[str, float]
    polarity_accuracy: float  # cross-validated accuracy of the polarity model on claim rows


def train(models_dir: Path, folds: int = 5) -> TrainingReport:
    """Fit both models on all the data, measure them by stratified cross-validation, save."""
    examples = load_examples(models_dir)
    texts = [normalise(e.text) for e in examples]
    is_claim = np.array([e.label != NOT_A_CLAIM for e in examples])
    claim_texts = [t for t, c in zip(texts, is_claim, strict=True) if c]
    categories = np.array([e.label for e in examples if e.label != NOT_A_CLAIM])
    polar = [
        (t, e.polarity)
        for t, e in zip(texts, examples, strict=True)
        if e.label != NOT_A_CLAIM and e.polarity in POLARITIES
    ]
    polar_texts, polarities = [t for t, _ in polar], np.array([p for _, p in polar])

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    claim_cv = cross_val_predict(_pipeline(4.0), texts, is_claim, cv=splitter)
    category_cv = cross_val_predict(_pipeline(8.0), claim_texts, categories, cv=splitter)
    per_class = f1_score(categories, category_cv, labels=list(CATEGORIES), average=None)
    polarity_cv = cross_val_predict(_pipeline(4.0), polar_texts, polarities, cv=splitter)

    detector = _pipeline(4.0).fit(texts, is_claim)
    categoriser = _pipeline(8.0).fit(claim_texts, categories)
    polarity_model = _pipeline(4.0).fit(polar_texts, polarities)
    fingerprint = data_fingerprint(models_dir)
    version = hashlib.sha256(f"{fingerprint}|{RECIPE}|{sklearn.__version__}".encode()).hexdigest()[:12]
    report = TrainingReport(
        version=version,
        examples=len(examples),
        label_counts=dict(sorted(Counter(e.label for e in examples).items())),
        claim_f1=round(float(f1_score(is_claim, claim_cv)), 4),
        category_macro_f1=round(float(np.mean(per_class)), 4),
        category_f1={c: round(float(f), 4) for c, f in zip(CATEGORIES, per_class, strict=True)},
        polarity_accuracy=round(float(np.mean(polarity_cv == polarities)), 4),
    )
    for pipeline in (detector, categoriser, polarity_model):
        _drop_stop_words(pipeline)
    skops.io.dump(
        {"detector": detector, "categoriser": categoriser, "polarity": polarity_model},
        models_dir / MODEL_FILE,
        compression=zipfile.ZIP_DEFLATED,
        compresslevel=9,
    )
    card = {
        "version": version,
        "recipe": RECIPE,
        "data_sha256": fingerprint,
        "sklearn": sklearn.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cross_validation": {
            "folds": folds,
            "claim_f1": report.claim_f1,
            "category_macro_f1": report.category_macro_f1,
            "category_f1": report.category_f1,
            "polarity_accuracy": report.polarity_accuracy,
        },
        "examples": report.examples,
        "label_counts": report.label_counts,
    }
    (models_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return report


# The only types a model file may contain; anything else is refused at load time.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


class ClaimClassifier:
    """Loaded models: claim probability and category scores for ketamine sentences."""

    def __init__(
        self, detector: Pipeline, categoriser: Pipeline, version: str, polarity: Pipeline | None = None
    ) -> None:
        self.detector = detector
        self.categoriser = categoriser
        self.polarity_model = polarity
        self.version = version
        self._claim_index = list(detector.classes_).index(True)

    @classmethod
    def load(cls, models_dir: Path) -> ClaimClassifier:
        path = models_dir / MODEL_FILE
        card_path = models_dir / CARD_FILE
        if not path.exists() or not card_path.exists():
            raise ModelError(f"no trained classifier in {models_dir}; run `monitor train`")
        try:
            untrusted = skops.io.get_untrusted_types(file=path)
            refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
            if refused:
                raise ModelError(f"{path} holds unexpected types: {', '.join(refused)}")
            models = skops.io.load(path, trusted=untrusted)
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except ModelError:
            raise
        except Exception as exc:  # skops raises many kinds on a damaged file
            raise ModelError(f"cannot load {path}: {exc}") from exc
        return cls(models["detector"], models["categoriser"], card["version"], models.get("polarity"))

    def claim_probability(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        proba = self.detector.predict_proba([normalise(t) for t in texts])
        return [float(p) for p in proba[:, self._claim_index]]

    def categorise(self, texts: Sequence[str]) -> list[Prediction]:
        """Category scores for each text, assuming it is a claim about ketamine."""
        if not texts:
            return []
        normalised = [normalise(t) for t in texts]
        proba = self.categoriser.predict_proba(normalised)
        classes = [str(c) for c in self.categoriser.classes_]
        guesses = (
            self.polarity_model.predict(normalised)
            if self.polarity_model is not None
            else [None] * len(texts)
        )
        predictions = []
        for text, row, guess in zip(texts, proba, guesses, strict=True):
            scores = {c: round(float(p), 4) for c, p in zip(classes, row, strict=True)}
            best = max(scores, key=scores.__getitem__)
            polarity = attributes.polarity(text, model_guess=str(guess) if guess is not None else None)
            predictions.append(Prediction(best, scores[best], scores, self.version, polarity))
        return predictions


def classify_texts(classifier: ClaimClassifier, texts: Sequence[str]) -> list[dict[str, object]]:
    """What `monitor classify` prints: category and scores for each text, taken as a claim,
    plus the detector's opinion of whether it is one."""
    predictions = classifier.categorise(texts)
    claim_scores = classifier.claim_probability(texts)
    return [
        {
            "text": text,
            "category": p.category,
            "confidence": p.confidence,
            "scores": p.scores,
            "claim_score": round(score, 4),
            "polarity": p.polarity,
            "model_version": p.model_version,
        }
        for text, p, score in zip(texts, predictions, claim_scores, strict=True)
    ]
