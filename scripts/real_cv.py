"""Choose claim-model recipes on real text: cross-validation grouped by article over the real
training articles (models/real/train.jsonl, read from ../shared/corpus).

For each fold: train on the hand-written data (sentence rows and articles) plus the other folds'
real articles, then run the whole pipeline (extractor included) on the fold's articles and score
it as `monitor evaluate` does. The real development set (models/real/dev.jsonl) is never read.

    .venv/bin/python scripts/real_cv.py                    # the shipped recipe
    .venv/bin/python scripts/real_cv.py --no-context       # the sentence alone
    .venv/bin/python scripts/real_cv.py --no-real          # hand-written data only (today's data)
    .venv/bin/python scripts/real_cv.py --threshold 0.6    # another claim threshold

Several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence

from sklearn.model_selection import GroupKFold

from monitor.config import default_models_dir
from monitor.language import runtime, training
from monitor.language.classify import ClaimClassifier
from monitor.language.compile import compile_models
from monitor.language.evaluate import evaluate, segmentation
from monitor.language.extract import build_nlp
from monitor.language.features import COLUMNS
from monitor.language.labelled import extractor_for
from monitor.language.meaning import load_table, meaning_dir
from monitor.language.realtext import default_corpus, load_real
from monitor.language.training import Example, TrainingSets, article_examples, fit_models, load_examples
from monitor.records import Prediction, Sentence


class ByFold:
    """Answers each sentence with the model that never saw its article."""

    version = "cv"

    def __init__(self, models: dict[int, ClaimClassifier], fold_of: dict[str, int]) -> None:
        self.models = models
        self.fold_of = fold_of

    def _each(self, items: Sequence[Sentence], ask: str) -> list:
        answers: list = [None] * len(items)
        for fold, model in self.models.items():
            mine = [i for i, s in enumerate(items) if self.fold_of[s.article_id] == fold]
            if mine:
                for i, answer in zip(mine, getattr(model, ask)([items[i] for i in mine]), strict=True):
                    answers[i] = answer
        return answers

    def claim_probability(self, items: Sequence[Sentence]) -> list[float]:
        return self._each(items, "claim_probability")

    def categorise(self, items: Sequence[Sentence]) -> list[Prediction]:
        return self._each(items, "categorise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-context", action="store_true", help="the sentence's own words only")
    parser.add_argument("--no-real", action="store_true", help="train without the real articles")
    parser.add_argument("--no-rows", action="store_true", help="train without the hand-written rows")
    parser.add_argument("--thresholds", default="0.5", help="claim thresholds to score, comma-separated")
    parser.add_argument("--real-weight", type=float, default=training.REAL_WEIGHT)
    parser.add_argument("--c", type=float, default=None, help="regularisation of detector and categoriser")
    parser.add_argument("--neighbour-weight", type=float, default=training.NEIGHBOUR_WEIGHT)
    parser.add_argument("--mark-weight", type=float, default=training.MARK_WEIGHT)
    parser.add_argument("--errors", help="write the fold predictions' errors here (JSON Lines)")
    args = parser.parse_args()
    training.NEIGHBOUR_WEIGHT = args.neighbour_weight
    training.REAL_WEIGHT = args.real_weight
    training.MARK_WEIGHT = args.mark_weight

    models_dir = default_models_dir()
    corpus = default_corpus()
    real = load_real(models_dir, corpus, "train")
    handwritten = load_examples(models_dir)  # rows and hand-written articles, no corpus
    if args.no_rows:
        handwritten = [e for e in handwritten if e.article is not None]
    real_examples = article_examples(real)
    ids = [item.article.id for item in real]
    fold_of = {}
    for fold, (_, test) in enumerate(GroupKFold(n_splits=args.folds).split(ids, groups=ids)):
        fold_of.update({ids[i]: fold for i in test})

    def build(c: float, context: bool = True):
        return training.build_pipeline(args.c or c, context=context and not args.no_context)

    models = {}
    for fold in range(args.folds):
        seen: list[Example] = [] if args.no_real else [e for e in real_examples if fold_of[e.article] != fold]
        fitted = fit_models(TrainingSets.of(handwritten + seen), build=build)
        compiled = runtime.build(*compile_models(fitted), COLUMNS, load_table(meaning_dir()).dim)
        detector, categoriser, polarity = (compiled[n] for n in ("detector", "categoriser", "polarity"))
        models[fold] = ClaimClassifier(detector, categoriser, "cv", polarity)
    nlp = build_nlp()
    kinds = Counter(item.kind for item in real)
    print(
        f"{len(real)} real articles ({dict(kinds)}); context {'no' if args.no_context else 'yes'}, "
        f"real articles in training {'no' if args.no_real else f'yes (weight {args.real_weight})'}, "
        f"neighbours {args.neighbour_weight}, marks {args.mark_weight}, C {args.c or 'default'}"
    )
    for threshold in (float(t) for t in args.thresholds.split(",")):
        report = evaluate(real, extractor_for(real, nlp), ByFold(models, fold_of), threshold)  # type: ignore[arg-type]
        print(
            f"threshold {threshold}: extraction P {report.extraction.precision:.3f} "
            f"R {report.extraction.recall:.3f} "
            f"F1 {report.extraction.f1:.3f}; end-to-end macro F1 {report.end_to_end_macro_f1:.3f} "
            + " ".join(f"{c} {s.f1:.3f}" for c, s in report.end_to_end.items())
        )
    print(
        f"classifier alone macro F1 {report.classification_macro_f1:.3f}; polarity shown on "
        f"{report.polarity_shown:.0%}, agreeing on {report.polarity_accuracy:.3f}"
    )
    for kind, row in report.by_kind.items():
        print(f"  {kind:<14} extraction F1 {row['extraction_f1']:.3f} ({row['gold_claims']} claims)")
    seg = segmentation(real, nlp)
    print(f"segmentation: {seg.wrong_splits} wrong splits, {seg.missed_splits} missed, of {seg.sentences}")
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as handle:
            for error in report.errors:
                handle.write(json.dumps(error, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
