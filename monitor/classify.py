"""The claim classifier: is this ketamine sentence a claim, and about what?

Three scikit-learn pipelines trained (monitor.training) from the hand-labelled
sentences in models/data: a claim detector (claim or not), a categoriser
(efficacy, safety, duration, cost) and a polarity model. They live in one skops
file (monitor.artifact) whose hash is the model version.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

from sklearn.pipeline import Pipeline

from monitor import artifact, attributes, meaning
from monitor.errors import ModelError
from monitor.lexicon import HEADING_RE, KETAMINE_RE, mentions_ketamine
from monitor.records import Prediction

NOT_A_CLAIM = "none"
MODEL_FILE = "classifier.skops"
CARD_FILE = "model-card.json"
# A category whose score reaches this is reported as the secondary one.
SECONDARY_MIN = 0.25

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


# Appended to a sentence that does not name ketamine ("The infusions lifted her within a day"):
# such sentences reach the models only from articles about ketamine, and far more of them are
# narrative than of the sentences that name it. A linear model cannot learn from a word's
# absence, so the absence is made a word. (Evaluation set: end-to-end macro F1 0.784 -> 0.792.)
IMPLICIT_MARK = " __implicit__"


def normalise(text: str) -> str:
    """What the models see: digits collapsed (the size of a number matters less than its
    presence, "$600" and "64%" are the signal), every ketamine form as one word, and a mark on
    sentences that refer to it without naming it."""
    implicit = IMPLICIT_MARK if not mentions_ketamine(text) else ""
    # The extractor leaves an abstract's "Results:" out of the sentence; some training rows
    # keep it. Both reach the models without it.
    heading = HEADING_RE.match(text)
    if heading is not None:
        text = text[heading.end() :]
    text = KETAMINE_RE.sub(" ketamine ", text)
    return _NUMBER.sub("0", text.lower()) + implicit


class ClaimClassifier:
    """Loaded models: claim probability and category scores for ketamine sentences."""

    def __init__(
        self, detector: Pipeline, categoriser: Pipeline, version: str, polarity: Pipeline | None = None
    ) -> None:
        self.detector = detector
        self.categoriser = categoriser
        self.polarity_model = polarity
        self.version = version
        self._none_index = list(detector.classes_).index(NOT_A_CLAIM)

    @classmethod
    def load(cls, models_dir: Path) -> ClaimClassifier:
        path = models_dir / MODEL_FILE
        card_path = models_dir / CARD_FILE
        if not path.exists() or not card_path.exists():
            raise ModelError(f"no trained classifier in {models_dir}; run `monitor train`")
        stat = path.stat()
        return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    def claim_probability(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        proba = self.detector.predict_proba([normalise(t) for t in texts])
        return [1.0 - float(p) for p in proba[:, self._none_index]]

    def categorise(self, texts: Sequence[str]) -> list[Prediction]:
        """Category scores for each text, assuming it is a claim about ketamine."""
        if not texts:
            return []
        normalised = [normalise(t) for t in texts]
        features = self.categoriser.named_steps["features"]
        matrix = features.transform(normalised)
        proba = self.categoriser.named_steps["model"].predict_proba(matrix)
        classes = [str(c) for c in self.categoriser.classes_]
        guesses: Sequence[object] = [None] * len(texts)
        if self.polarity_model is not None:
            # Training gives polarity the categoriser's fitted features (one vocabulary in the
            # file); when it does, the sentences are vectorised once for both models.
            polarity_features = self.polarity_model.named_steps["features"]
            if polarity_features is not features:
                matrix = polarity_features.transform(normalised)
            guesses = self.polarity_model.named_steps["model"].predict(matrix)
        predictions = []
        for text, row, guess in zip(texts, proba, guesses, strict=True):
            scores = {c: round(float(p), 4) for c, p in zip(classes, row, strict=True)}
            best, second = sorted(scores, key=scores.__getitem__, reverse=True)[:2]
            polarity = attributes.polarity(text, model_guess=str(guess) if guess is not None else None)
            secondary = second if scores[second] >= SECONDARY_MIN else None
            predictions.append(Prediction(best, scores[best], scores, self.version, polarity, secondary))
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
            "secondary": p.secondary,
            "polarity": p.polarity,
            "model_version": p.model_version,
        }
        for text, p, score in zip(texts, predictions, claim_scores, strict=True)
    ]


@functools.lru_cache(maxsize=4)
def _load(path_text: str, mtime_ns: int, size: int) -> ClaimClassifier:
    """Loading takes seconds; a process that asks twice for the same file gets it once
    (a retrained file has a new mtime, so it is read again)."""
    path = Path(path_text)
    card_path = path.with_name(CARD_FILE)
    models = artifact.load(path)
    version = artifact.file_sha256(path)[:12]
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {card_path}: {exc}") from exc
    if card.get("version") != version:
        raise ModelError(f"{path} does not match {card_path.name}: retrain with `monitor train`")
    # Read the sentence vectors now, on the thread that loads models while feeds are fetched,
    # rather than when the first sentence needs them.
    meaning.load_table(meaning.meaning_dir())
    return ClaimClassifier(models["detector"], models["categoriser"], version, models.get("polarity"))
