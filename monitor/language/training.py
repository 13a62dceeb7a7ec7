"""Training the claim models from the hand-labelled sentences in models/data (plus any
corrections people recorded), measuring them by cross-validation, and writing the model
file and its card. Same data, same bytes: seeds are fixed, and the fitted pipelines are compiled
(monitor.language.compile) into a file written reproducibly (monitor.language.artifact).
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
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from monitor.errors import ModelError
from monitor.language import artifact
from monitor.language.classify import CARD_FILE, INPUT_LAYOUT, MODEL_FILE, NOT_A_CLAIM
from monitor.language.compile import compile_models
from monitor.language.features import model_rows, normalise
from monitor.language.labelled import GoldSentence, LabelledArticle, extractor_for, load_articles, match_gold
from monitor.language.lexicon import is_methods_section
from monitor.language.realtext import REAL_DIR, load_real
from monitor.language.steps import SentenceMeaning
from monitor.records import CATEGORIES, POLARITIES, Sentence

LABELS = (*CATEGORIES, NOT_A_CLAIM)
QUOTE_RE = re.compile(r"[\"\u201c\u201d]")
DATA_GLOB = "data/*.jsonl"
ARTICLES_DIR = "data/articles"  # whole labelled articles, in the evaluation sets' format
SEED = 20261126
# Part of the card: change it whenever features or training change.
RECIPE = (
    "tfidf-word12-char25(hashed)+minilm-static256+implicit-mark+logreg-newton-cg+sigmoid-calibration"
    "+5-label-detector+articles+context-marks-neighbours(detector)+masked-treatment"
    "+real-articles(w0.25/0.3/1.0)+hashed-tfidf-2^16-v10"
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
    article: str | None = None  # the labelled article it stands in (data/articles, real), if any
    sentence: Sentence | None = None  # as the extractor hands it over, with its context


def load_examples(models_dir: Path, corpus: Path | None = None) -> list[Example]:
    """The sentences of data/*.jsonl, then the candidate sentences of the hand-written articles
    (data/articles) and, with a corpus, of the real training articles (real/train.jsonl)."""
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
    articles = (
        load_articles(models_dir / ARTICLES_DIR, prefix="train")
        if (models_dir / ARTICLES_DIR).is_dir()
        else []
    )
    if corpus is not None:
        articles += load_real(models_dir, corpus, "train")
    return examples + article_examples(articles)


def article_examples(items: Sequence[LabelledArticle]) -> list[Example]:
    """The sentences of whole labelled articles that the extractor hands to the models, as it
    hands them over (split as it splits them, with their context), each labelled by the
    labelled sentence it covers. Written in sequence, they carry the real mix of narrative,
    methods and attribution around claims, which isolated sentences under-represent."""
    if not items:
        return []
    from monitor.language.extract import build_nlp

    by_id = {item.article.id: item for item in items}
    extractor = extractor_for(items, build_nlp())
    examples = []
    for article, sentences in extractor.extract(item.article for item in items):
        item = by_id[article.id]
        origin = (
            f"articles/{item.origin}.json" if article.id.startswith("train:") else f"{REAL_DIR}/{item.origin}"
        )
        for sentence in sentences:
            gold = match_gold(sentence, item.gold)
            if gold is None or is_methods_section(sentence.section):
                continue  # split unlike any labelled sentence, or never shown to the models
            examples.append(
                Example(
                    sentence.text,
                    gold.category or NOT_A_CLAIM,
                    gold.secondary,
                    _style(item.kind, gold),
                    gold.polarity if gold.category else "neutral",
                    origin,
                    article.id,
                    sentence,
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
    paths = sorted(models_dir.glob(DATA_GLOB)) + sorted(models_dir.glob(f"{ARTICLES_DIR}/*.json"))
    paths += sorted(models_dir.glob(f"{REAL_DIR}/*.jsonl"))
    for path in paths:
        digest.update(path.relative_to(models_dir).as_posix().encode())
        digest.update(path.read_bytes())
    for c in sorted(corrections, key=lambda c: c.text):
        digest.update(json.dumps(asdict(c), sort_keys=True).encode())
    return digest.hexdigest()


# How much a real sentence counts against a hand-written one, per model. The hand-written data
# is about ketamine, the real data mostly about other treatments (masked): it teaches the
# detector what real prose around claims looks like, while the categoriser, at full weight,
# learns other drugs' categories. Chosen on the development sets (hand-written and real) with
# 459 real training articles: detector 0.25 (extraction F1 0.884 / 0.737, against 0.871 / 0.727
# at 0.5); categoriser 0.3 (category macro F1 0.885 / 0.674, against 0.890 / 0.687 at 0.6 and
# 0.881 / 0.663 at 0.15).
REAL_WEIGHT = 0.25  # detector
REAL_CATEGORY_WEIGHT = 0.3  # categoriser
REAL_POLARITY_WEIGHT = 1.0  # polarity: the real labels agree with each other far more
# Column weights of the feature blocks (model input columns: monitor.language.features).
NEIGHBOUR_WEIGHT = 0.5
MARK_WEIGHT = 1.0


def _hashed(bits: int, **options: object) -> Pipeline:
    """TF-IDF over hashed n-grams: no vocabulary to store, so the model file loads as arrays
    (a 286,000-term vocabulary took ten seconds to read back). 2**16 buckets cost nothing
    measurable against a vocabulary (real training articles, grouped CV: detector F1 0.740
    either way at its best threshold) or against 2**17 (F1 0.735 vs 0.736 at 0.5; 2**15: 0.730),
    and training time grows with the buckets."""
    vectorizer = HashingVectorizer(n_features=2**bits, alternate_sign=False, norm=None, **options)
    return Pipeline([("hash", vectorizer), ("tfidf", TfidfTransformer(sublinear_tf=True))])


def build_features(context: bool = True) -> ColumnTransformer:
    """Word and character TF-IDF and the meaning vector of the sentence; with context, its
    marks (place, quotation, attribution, section) and its neighbours' words."""
    blocks: list[tuple[str, object, int]] = [
        ("words", _hashed(16, ngram_range=(1, 2)), 0),
        ("chars", _hashed(16, analyzer="char_wb", ngram_range=(2, 5)), 0),
        ("meaning", SentenceMeaning(), 0),
    ]
    weights = {}
    if context:
        blocks += [
            ("marks", CountVectorizer(token_pattern=r"\S+", lowercase=False, binary=True), 1),
            ("previous", _hashed(15), 2),
            ("next", _hashed(15), 3),
        ]
        weights = {"marks": MARK_WEIGHT, "previous": NEIGHBOUR_WEIGHT, "next": NEIGHBOUR_WEIGHT}
    return ColumnTransformer(blocks, transformer_weights=weights or None, sparse_threshold=1.0)


def build_pipeline(c: float, context: bool = True) -> Pipeline:
    """The features, then a calibrated logistic regression."""
    return Pipeline([("features", build_features(context)), ("model", build_model(c))])


def build_model(c: float) -> CalibratedClassifierCV:
    """Logistic regression with sigmoid calibration: the raw class-weighted probabilities run
    hot, calibrated ones mean what they say."""
    model = LogisticRegression(
        C=c, solver="newton-cg", tol=1e-3, max_iter=1000, class_weight="balanced", random_state=SEED
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    return CalibratedClassifierCV(model, method="sigmoid", cv=folds, ensemble=False)


@dataclass(frozen=True)
class TrainingSets:
    """What each model learns from, as the models see it (rows of model input)."""

    texts: np.ndarray  # every example: the detector
    labels: np.ndarray
    claim_texts: np.ndarray  # the claims: the categoriser
    categories: np.ndarray
    polar_texts: np.ndarray  # the claims with a polarity label: the polarity model
    polarities: np.ndarray
    groups: np.ndarray  # the article each example stands in (or its own row): for grouped folds
    claim_groups: np.ndarray  # ... of each claim
    polar_groups: np.ndarray  # ... of each claim with a polarity label
    weights: np.ndarray  # how much each example counts for the detector
    claim_weights: np.ndarray  # ... for the categoriser
    polar_weights: np.ndarray  # ... for the polarity model

    @classmethod
    def of(cls, examples: Sequence[Example]) -> TrainingSets:
        rows = model_rows([e.sentence or e.text for e in examples])
        is_claim = np.array([e.label != NOT_A_CLAIM for e in examples], dtype=bool)
        polar = np.array([e.label != NOT_A_CLAIM and e.polarity in POLARITIES for e in examples], dtype=bool)
        real = np.array([e.origin.startswith(REAL_DIR) for e in examples], dtype=bool)

        def weights(weight: float) -> np.ndarray:
            return np.where(real, weight, 1.0)

        labels = np.array([e.label for e in examples])
        groups = np.array([e.article or f"row:{i}" for i, e in enumerate(examples)])
        return cls(
            rows,
            labels,
            rows[is_claim],
            labels[is_claim],
            rows[polar],
            np.array([str(e.polarity) for e in examples])[polar],
            groups,
            groups[is_claim],
            groups[polar],
            weights(REAL_WEIGHT),
            weights(REAL_CATEGORY_WEIGHT)[is_claim],
            weights(REAL_POLARITY_WEIGHT)[polar],
        )


def fit_models(sets: TrainingSets, build: Callable[..., Pipeline] = build_pipeline) -> dict[str, Pipeline]:
    """The detector, categoriser and polarity model, fitted on all of sets. The detector reads
    the sentence in its context (a claim's shape depends on where it stands: a quotation, a
    methods paragraph, the lead); the categoriser reads the sentence alone (on the real
    training articles its neighbours cost category macro F1 0.69 -> 0.62)."""
    categoriser = build(8.0, context=False).fit(
        sets.claim_texts, sets.categories, model__sample_weight=sets.claim_weights
    )
    # Polarity reads the same claim sentences: it shares the categoriser's fitted features,
    # so the model file holds that vocabulary once.
    features = categoriser.named_steps["features"]
    polarity = build_model(4.0).fit(
        features.transform(sets.polar_texts), sets.polarities, sample_weight=sets.polar_weights
    )
    return {
        # The detector learns all five labels: "not a claim" is judged against each category
        # rather than against their union, which separates narrative from findings better.
        "detector": build(8.0, context=True).fit(sets.texts, sets.labels, model__sample_weight=sets.weights),
        "categoriser": categoriser,
        "polarity": Pipeline([("features", features), ("model", polarity)]),
    }


def fit_and_save(sets: TrainingSets, path: Path) -> str:
    """Fit the three models on all of sets, compile them and write the model file; its version
    (the first 12 hex digits of its SHA-256), the same for the same sets in any process."""
    manifest, arrays = compile_models(fit_models(sets))
    return artifact.save(manifest, arrays, path)[:12]


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
    models_dir: Path,
    corrections: Sequence[Example] = (),
    folds: int = 5,
    jobs: int = 2,
    corpus: Path | None = None,
) -> TrainingReport:
    """Fit the detector, categoriser and polarity model on all the data, measure each by
    cross-validation (folds grouped by article: no article is on both sides), write the model
    file and its card. With a corpus, the real training articles are part of the data."""
    examples = merge_corrections(load_examples(models_dir, corpus), corrections)
    sets = TrainingSets.of(examples)

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)

    def cross_validated(pipeline: Pipeline, rows: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:  # fmt: skip
        return cross_val_predict(
            pipeline, rows, labels, groups=groups, cv=splitter, n_jobs=jobs,
            params={"model__sample_weight": weights},
        )  # fmt: skip

    claim_cv = cross_validated(build_pipeline(8.0), sets.texts, sets.labels, sets.groups, sets.weights)
    claim_cv = claim_cv != NOT_A_CLAIM
    category_cv = cross_validated(
        build_pipeline(8.0, context=False), sets.claim_texts, sets.categories, sets.claim_groups,
        sets.claim_weights,
    )  # fmt: skip
    polarity_cv = cross_validated(
        build_pipeline(4.0, context=False), sets.polar_texts, sets.polarities, sets.polar_groups,
        sets.polar_weights,
    )  # fmt: skip
    per_class = f1_score(sets.categories, category_cv, labels=list(CATEGORIES), average=None)

    version = fit_and_save(sets, models_dir / MODEL_FILE)
    report = TrainingReport(
        version=version,
        examples=len(examples),
        corrections=len(corrections),
        label_counts=dict(sorted(Counter(e.label for e in examples).items())),
        claim_f1=round(float(f1_score(sets.labels != NOT_A_CLAIM, claim_cv)), 4),
        category_macro_f1=round(float(np.mean(per_class)), 4),
        category_f1={c: round(float(f), 4) for c, f in zip(CATEGORIES, per_class, strict=True)},
        polarity_accuracy=round(float(np.mean(polarity_cv == sets.polarities)), 4),
        by_style=_by_style(examples, claim_cv, [e for e in examples if e.label != NOT_A_CLAIM], category_cv),
    )
    card = {
        "version": version,
        "recipe": RECIPE,
        "input": INPUT_LAYOUT,
        "data_sha256": data_fingerprint(models_dir, corrections),
        "sklearn": sklearn.__version__,
        "seed": SEED,
        "cross_validation": {k: v for k, v in asdict(report).items() if k not in ("version", "examples")},
        "examples": report.examples,
        "real_articles": len({e.article for e in examples if e.origin.startswith(REAL_DIR)}),
        "corpus": corpus is not None,
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
