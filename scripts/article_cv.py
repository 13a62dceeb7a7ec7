"""Compare claim-model recipes on the training articles, without touching the evaluation sets.

4-fold cross-validation grouped by article over models/data/articles: for each fold, train on
the sentence rows (data/*.jsonl) plus the other folds' articles, then run the whole pipeline
(extractor included) on the fold's articles and score it as `monitor evaluate` does.

    .venv/bin/python scripts/article_cv.py                     # the shipped recipe
    .venv/bin/python scripts/article_cv.py --without-meaning   # TF-IDF only
    .venv/bin/python scripts/article_cv.py --sentences-only    # articles never in training

About two minutes on 2 cores. models/README.md has the figures.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence

from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from monitor.classify import ClaimClassifier
from monitor.config import default_models_dir
from monitor.evaluate import evaluate
from monitor.extract import SentenceExtractor, build_nlp
from monitor.labelled import load_articles
from monitor.records import Prediction
from monitor.training import ARTICLES_DIR, Example, TrainingSets, build_pipeline, fit_models, load_examples


def pipeline(c: float, meaning: bool) -> Pipeline:
    built = build_pipeline(c)
    if not meaning:
        union = built.named_steps["features"]
        kept = [(name, step) for name, step in union.transformer_list if name != "meaning"]
        built = Pipeline([("features", FeatureUnion(kept)), ("model", built.named_steps["model"])])
    return built


def fit(examples: Sequence[Example], meaning: bool) -> ClaimClassifier:
    models = fit_models(TrainingSets.of(examples), build=functools.partial(pipeline, meaning=meaning))
    return ClaimClassifier(models["detector"], models["categoriser"], "cv", models["polarity"])


class ByFold:
    """Answers each sentence with the model that never saw its article. The extractor's
    sentences are slices of their article's title or text, so the article is the one whose
    title or text holds the slice."""

    version = "cv"

    def __init__(self, models: dict[int, ClaimClassifier], articles: list[tuple[str, str, int]]) -> None:
        self.models = models
        self.articles = articles  # (title, text, fold)

    def _fold(self, text: str) -> int:
        return next(fold for title, body, fold in self.articles if text in body or text in title)

    def _each(self, texts: Sequence[str], ask: str) -> list:
        answers: list = [None] * len(texts)
        folds = [self._fold(t) for t in texts]
        for fold, model in self.models.items():
            mine = [i for i, f in enumerate(folds) if f == fold]
            for i, answer in zip(mine, getattr(model, ask)([texts[i] for i in mine]), strict=True):
                answers[i] = answer
        return answers

    def claim_probability(self, texts: Sequence[str]) -> list[float]:
        return self._each(texts, "claim_probability")

    def categorise(self, texts: Sequence[str]) -> list[Prediction]:
        return self._each(texts, "categorise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without-meaning", action="store_true", help="TF-IDF features only")
    parser.add_argument("--sentences-only", action="store_true", help="train on data/*.jsonl only")
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()

    models_dir = default_models_dir()
    examples = load_examples(models_dir)
    rows = [e for e in examples if e.article is None]
    article_rows = [e for e in examples if e.article is not None]
    articles = load_articles(models_dir / ARTICLES_DIR, prefix="train")
    ids = [a.article.id for a in articles]
    fold_of_article = {}
    for fold, (_, test) in enumerate(GroupKFold(n_splits=args.folds).split(ids, groups=ids)):
        fold_of_article.update({ids[i]: fold for i in test})
    models = {}
    for fold in range(args.folds):
        seen = [] if args.sentences_only else [e for e in article_rows if fold_of_article[e.article] != fold]
        models[fold] = fit(rows + seen, meaning=not args.without_meaning)
    folds = [(a.article.title, a.article.text, fold_of_article[a.article.id]) for a in articles]
    report = evaluate(articles, SentenceExtractor(build_nlp()), ByFold(models, folds), 0.5)  # type: ignore[arg-type]
    print(
        f"{len(articles)} articles, {report.gold_claims} claims; "
        f"meaning vectors {'no' if args.without_meaning else 'yes'}, "
        f"articles in training {'no' if args.sentences_only else 'yes'}"
    )
    print(
        f"extraction P {report.extraction.precision:.3f} R {report.extraction.recall:.3f} "
        f"F1 {report.extraction.f1:.3f}; end-to-end macro F1 {report.end_to_end_macro_f1:.3f} "
        + " ".join(f"{c} {s.f1:.3f}" for c, s in report.end_to_end.items())
    )
    print(f"classifier alone macro F1 {report.classification_macro_f1:.3f}")


if __name__ == "__main__":
    main()
