"""Training the claim models from the hand-labelled sentences in models/data (plus any
corrections people recorded), measuring them by cross-validation, and writing the model
file and its card. Same data, same bytes: seeds are fixed and the file is written
reproducibly (monitor.artifact).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from monitor import artifact
from monitor.classify import CARD_FILE, MODEL_FILE, NOT_A_CLAIM, normalise
from monitor.errors import ModelError
from monitor.labelled import GoldSentence, load_articles
from monitor.lexicon import is_about_ketamine, is_candidate
from monitor.meaning import SentenceMeaning
from monitor.records import CATEGORIES, POLARITIES

LABELS = (*CATEGORIES, NOT_A_CLAIM)
QUOTE_RE = re.compile(r"[\"\u201c\u201d]")
DATA_GLOB = "data/*.jsonl"
ARTICLES_DIR = "data/articles"  # whole labelled articles, in the evaluation sets' format
SEED = 20261126
# Part of the card: change it whenever features or training change.
RECIPE = (
    "tfidf-word12-char25+minilm-static256+implicit-mark+logreg-newton-cg+sigmoid-calibration"
    "+5-label-detector+articles-v7"
)


@dataclass(frozen=True)
class Example:
    """One labelled sentence: from models/data, or a correction someone recorded."""

    text: str
    label: str
    secondary: str | None
    style: str
    polarity: str | None
    origin: str  # file name it came from, or "corrections"
    article: str | None = None  # the labelled article it was written in (data/articles), if any


def load_examples(models_dir: Path) -> list[Example]:
    """The sentences of data/*.jsonl, then the candidate sentences of data/articles."""
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
    return examples + load_article_examples(models_dir / ARTICLES_DIR)


def load_article_examples(folder: Path) -> list[Example]:
    """The sentences of whole labelled articles that the extractor would hand to the models:
    those naming ketamine, and in articles about it those referring back to it. Written in
    sequence, they carry the real mix of narrative, methods and attribution around claims,
    which isolated sentences under-represent."""
    if not folder.is_dir():
        return []
    examples = []
    for item in load_articles(folder, prefix="train"):
        focused = is_about_ketamine(item.article)
        origin = f"articles/{item.origin}.json"
        for gold in item.gold:
            # A title is a candidate only when it names ketamine (extract.title_sentence).
            if not is_candidate(gold.text, focused and gold.unit == "text"):
                continue
            examples.append(
                Example(
                    gold.text.strip(),
                    gold.category or NOT_A_CLAIM,
                    gold.secondary,
                    _style(item.kind, gold),
                    gold.polarity if gold.category else "neutral",
                    origin,
                    item.article.id,
                )
            )
    return examples


def _style(kind: str, gold: GoldSentence) -> str:
    """The voice of a sentence of a labelled article, as the sentence rows name it."""
    if gold.unit == "title":
        return "abstract" if kind == "abstract" else "headline"
    if kind in ("news", "distractor", "press_release") and QUOTE_RE.search(gold.text):
        return "quote"
    return {"distractor": "news", "headline": "news"}.get(kind, kind)


def merge_corrections(examples: list[Example], corrections: Sequence[Example]) -> list[Example]:
    """Corrections win over shipped rows for the same sentence (compared as the model sees it)."""
    corrected = {normalise(c.text): c for c in corrections}
    kept = [e for e in examples if normalise(e.text) not in corrected]
    return kept + list(corrected.values())


def data_fingerprint(models_dir: Path, corrections: Sequence[Example] = ()) -> str:
    digest = hashlib.sha256()
    for path in sorted(models_dir.glob(DATA_GLOB)) + sorted(models_dir.glob(f"{ARTICLES_DIR}/*.json")):
        digest.update(path.relative_to(models_dir / "data").as_posix().encode())
        digest.update(path.read_bytes())
    for c in sorted(corrections, key=lambda c: c.text):
        digest.update(json.dumps(asdict(c), sort_keys=True).encode())
    return digest.hexdigest()


def build_pipeline(c: float) -> Pipeline:
    """Word and character TF-IDF and the sentence's meaning vector, then a calibrated logistic
    regression."""
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
            ("meaning", SentenceMeaning()),
        ]
    )
    return Pipeline([("features", features), ("model", build_model(c))])


def build_model(c: float) -> CalibratedClassifierCV:
    """Logistic regression with sigmoid calibration: the raw class-weighted probabilities run
    hot, calibrated ones mean what they say."""
    model = LogisticRegression(
        C=c, solver="newton-cg", tol=1e-3, max_iter=1000, class_weight="balanced", random_state=SEED
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    return CalibratedClassifierCV(model, method="sigmoid", cv=folds, ensemble=False)


def _drop_unused_state(pipeline: Pipeline) -> None:
    """What the vectorizers keep that prediction never reads. stop_words_ lists every n-gram
    that min_df pruned: tens of megabytes (scikit-learn documents it as safe to delete before
    saving)."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        if not isinstance(vectorizer, TfidfVectorizer):
            continue
        vectorizer.stop_words_ = None
        # A cache holding id(stop_words): a memory address, different in every process, which
        # made two trainings on the same data differ by a few bytes. Rebuilt when needed.
        vectorizer.__dict__.pop("_stop_words_id", None)


@dataclass(frozen=True)
class TrainingSets:
    """What each model learns from, as the models see it (normalised text)."""

    texts: list[str]  # every example: the detector
    labels: np.ndarray
    claim_texts: list[str]  # the claims: the categoriser
    categories: np.ndarray
    polar_texts: list[str]  # the claims with a polarity label: the polarity model
    polarities: np.ndarray

    @classmethod
    def of(cls, examples: Sequence[Example]) -> TrainingSets:
        texts = [normalise(e.text) for e in examples]
        claims = [(t, e) for t, e in zip(texts, examples, strict=True) if e.label != NOT_A_CLAIM]
        polar = [(t, e.polarity) for t, e in claims if e.polarity in POLARITIES]
        return cls(
            texts,
            np.array([e.label for e in examples]),
            [t for t, _ in claims],
            np.array([e.label for _, e in claims]),
            [t for t, _ in polar],
            np.array([p for _, p in polar]),
        )


def fit_models(
    sets: TrainingSets, build: Callable[[float], Pipeline] = build_pipeline
) -> dict[str, Pipeline]:
    """The detector, categoriser and polarity model, fitted on all of sets."""
    categoriser = build(8.0).fit(sets.claim_texts, sets.categories)
    # Polarity reads the same claim sentences: it shares the categoriser's fitted features,
    # so the model file holds that vocabulary once.
    features = categoriser.named_steps["features"]
    return {
        # The detector learns all five labels: "not a claim" is judged against each category
        # rather than against their union, which separates narrative from findings better.
        "detector": build(8.0).fit(sets.texts, sets.labels),
        "categoriser": categoriser,
        "polarity": Pipeline(
            [
                ("features", features),
                ("model", build_model(4.0).fit(features.transform(sets.polar_texts), sets.polarities)),
            ]
        ),
    }


@dataclass(frozen=True)
class TrainingReport:
    version: str  # first 12 hex digits of the model file's SHA-256
    examples: int
    corrections: int
    label_counts: dict[str, int]
    claim_f1: float  # cross-validated F1 of the claim detector (claim = positive)
    category_macro_f1: float  # cross-validated macro F1 over the four categories
    category_f1: dict[str, float]
    polarity_accuracy: float  # cross-validated accuracy of the polarity model on claim rows
    by_style: dict[str, dict[str, float]]  # cross-validated results per source style


def train(
    models_dir: Path, corrections: Sequence[Example] = (), folds: int = 5, jobs: int = 2
) -> TrainingReport:
    """Fit the detector, categoriser and polarity model on all the data, measure each by
    stratified cross-validation, write the model file and its card."""
    examples = merge_corrections(load_examples(models_dir), corrections)
    sets = TrainingSets.of(examples)
    is_claim = sets.labels != NOT_A_CLAIM

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    claim_cv = (
        cross_val_predict(build_pipeline(8.0), sets.texts, sets.labels, cv=splitter, n_jobs=jobs)
        != NOT_A_CLAIM
    )
    category_cv = cross_val_predict(
        build_pipeline(8.0), sets.claim_texts, sets.categories, cv=splitter, n_jobs=jobs
    )
    polarity_cv = cross_val_predict(
        build_pipeline(4.0), sets.polar_texts, sets.polarities, cv=splitter, n_jobs=jobs
    )
    per_class = f1_score(sets.categories, category_cv, labels=list(CATEGORIES), average=None)

    models = fit_models(sets)
    for pipeline in models.values():
        _drop_unused_state(pipeline)
    version = artifact.save(models, models_dir / MODEL_FILE)[:12]
    report = TrainingReport(
        version=version,
        examples=len(examples),
        corrections=len(corrections),
        label_counts=dict(sorted(Counter(e.label for e in examples).items())),
        claim_f1=round(float(f1_score(is_claim, claim_cv)), 4),
        category_macro_f1=round(float(np.mean(per_class)), 4),
        category_f1={c: round(float(f), 4) for c, f in zip(CATEGORIES, per_class, strict=True)},
        polarity_accuracy=round(float(np.mean(polarity_cv == sets.polarities)), 4),
        by_style=_by_style(examples, claim_cv, [e for e in examples if e.label != NOT_A_CLAIM], category_cv),
    )
    card = {
        "version": version,
        "recipe": RECIPE,
        "data_sha256": data_fingerprint(models_dir, corrections),
        "sklearn": sklearn.__version__,
        "seed": SEED,
        "cross_validation": {k: v for k, v in asdict(report).items() if k not in ("version", "examples")},
        "examples": report.examples,
    }
    (models_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return report


def _by_style(
    examples: list[Example], claim_cv: np.ndarray, claim_examples: list[Example], category_cv: np.ndarray
) -> dict[str, dict[str, float]]:
    detection: dict[str, list[bool]] = defaultdict(list)
    for example, predicted in zip(examples, claim_cv, strict=True):
        detection[example.style].append(bool(predicted) == (example.label != NOT_A_CLAIM))
    categorised: dict[str, list[bool]] = defaultdict(list)
    for example, predicted in zip(claim_examples, category_cv, strict=True):
        categorised[example.style].append(predicted == example.label)
    return {
        style: {
            "rows": len(detection[style]),
            "claim_detection_accuracy": round(float(np.mean(detection[style])), 4),
            "category_accuracy": round(float(np.mean(categorised[style])), 4) if categorised[style] else 0.0,
        }
        for style in sorted(detection)
    }
