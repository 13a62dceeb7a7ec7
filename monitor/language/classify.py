"""The claim classifier: is this ketamine sentence a claim, and about what?

Three scikit-learn pipelines trained (monitor.language.training) from the hand-labelled
sentences in models/data: a claim detector (claim or not), a categoriser
(efficacy, safety, duration, cost) and a polarity model. Training compiles them into plain arrays
in one file (monitor.language.artifact) whose hash is the model version; prediction runs them
with numpy alone (monitor.language.runtime), the same probabilities without importing
scikit-learn.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from monitor.errors import ModelError
from monitor.language import artifact, meaning, runtime
from monitor.language.features import COLUMNS, model_rows, normalise
from monitor.language.runtime import CompiledPipeline
from monitor.records import Prediction, Sentence

__all__ = ["ClaimClassifier", "classify_texts", "normalise"]

NOT_A_CLAIM = "none"
MODEL_FILE = "classifier.npz"
CARD_FILE = "model-card.json"
# What the models read (monitor.language.features): written on the card at training, checked at load, so a
# model trained for another input layout is refused with a clear message instead of failing on
# its first sentence.
INPUT_LAYOUT = "rows4-sentence-marks-previous-next-v1"
# Polarity is shown only where the polarity model is at least this sure; otherwise nothing is
# said. Chosen on the real training articles (grouped cross-validation) for at least 85%
# agreement with the labels where shown.
POLARITY_MIN = 0.7
# A category whose score reaches this is reported as the secondary one.
SECONDARY_MIN = 0.25


class ClaimClassifier:
    """Loaded models: claim probability and category scores for ketamine sentences."""

    def __init__(
        self,
        detector: CompiledPipeline,
        categoriser: CompiledPipeline,
        version: str,
        polarity: CompiledPipeline | None = None,
    ) -> None:
        self.detector = detector
        self.categoriser = categoriser
        self.polarity_model = polarity
        self.version = version
        if NOT_A_CLAIM not in detector.classes:
            raise ModelError(f"the claim detector has no class {NOT_A_CLAIM!r}")
        self._none_index = detector.classes.index(NOT_A_CLAIM)

    @classmethod
    def load(cls, models_dir: Path) -> ClaimClassifier:
        path = models_dir / MODEL_FILE
        card_path = models_dir / CARD_FILE
        if not path.exists() or not card_path.exists():
            raise ModelError(f"no trained classifier in {models_dir}; run `monitor train`")
        stat = path.stat()
        return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    def claim_probability(self, items: Sequence[Sentence | str]) -> list[float]:
        """The probability that each sentence (with its context, when it has one) is a claim."""
        if not items:
            return []
        proba = self.detector.predict_proba(model_rows(items))
        return [1.0 - float(p) for p in proba[:, self._none_index]]

    def categorise(self, items: Sequence[Sentence | str]) -> list[Prediction]:
        """Category scores for each sentence, assuming it is a claim about the treatment."""
        if not items:
            return []
        normalised = model_rows(items)
        blocks = self.categoriser.features.transform(normalised)
        proba = self.categoriser.predict_proba(normalised, blocks)
        classes = list(self.categoriser.classes)
        polarities: list[str | None] = [None] * len(items)
        if self.polarity_model is not None:
            # Training gives polarity the categoriser's fitted features (one feature set in the
            # file); when it does, the sentences are vectorised once for both models.
            model = self.polarity_model
            shared = model.features is self.categoriser.features
            polarities = [
                model.classes[row.argmax()] if row.max() >= POLARITY_MIN else None
                for row in model.predict_proba(normalised, blocks if shared else None)
            ]
        predictions = []
        for row, polarity in zip(proba, polarities, strict=True):
            scores = {c: round(float(p), 4) for c, p in zip(classes, row, strict=True)}
            best, second = sorted(scores, key=scores.__getitem__, reverse=True)[:2]
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
    """A process that asks twice for the same file gets it once (a retrained file has a new
    mtime, so it is read again)."""
    path = Path(path_text)
    card_path = path.with_name(CARD_FILE)
    digest, manifest, arrays = artifact.load(path)
    version = digest[:12]
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {card_path}: {exc}") from exc
    if card.get("version") != version:
        raise ModelError(f"{path} does not match {card_path.name}: retrain with `monitor train`")
    if card.get("input") != INPUT_LAYOUT:
        raise ModelError(f"{path} was trained for another version of the monitor: run `monitor train`")
    # Read the sentence vectors now, on the thread that loads models while feeds are fetched,
    # rather than when the first sentence needs them.
    table = meaning.load_table(meaning.meaning_dir())
    try:
        models = runtime.build(manifest, arrays, COLUMNS, table.dim)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    if not {"detector", "categoriser"} <= set(models) <= {"detector", "categoriser", "polarity"}:
        raise ModelError(f"{path} holds models {sorted(models)}, not detector, categoriser (and polarity)")
    return ClaimClassifier(models["detector"], models["categoriser"], version, models.get("polarity"))
