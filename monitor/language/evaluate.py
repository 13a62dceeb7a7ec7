"""How well the whole pipeline does on the hand-labelled evaluation articles in models/eval.

Every sentence of every evaluation article is labelled claim / not claim (and category,
polarity, hedging for claims). The extractor and classifier run on the rebuilt articles
exactly as in production; predicted claims are matched to labelled sentences by character
overlap, so a segmentation mistake costs what it would cost an editor.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from monitor.config import Settings
from monitor.errors import ModelError
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import build_nlp
from monitor.language.features import isolated
from monitor.language.labelled import GoldSentence, LabelledArticle, extractor_for, load_articles, match_gold
from monitor.language.realtext import load_real, read_records
from monitor.language.training import TrainingReport
from monitor.pipeline import Extractor, classify_sentences
from monitor.records import CATEGORIES

if TYPE_CHECKING:
    from spacy.language import Language

# The development set guided error analysis and the choice among model variants; the held-out
# set was written afterwards, by someone who never saw the development set, and is only ever
# measured, never tuned on (models/README.md).
EVAL_SETS = {"dev": "eval", "heldout": "heldout"}
# The real development set: real articles labelled by offset into ../shared/corpus, held back
# from training (monitor.language.realtext).
REAL_SET = "real"


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> Scores:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(round(precision, 4), round(recall, 4), round(f1, 4), tp + fn)


@dataclass(frozen=True)
class EvaluationReport:
    articles: int
    sentences: int
    gold_claims: int
    predicted_claims: int
    extraction: Scores  # claim / not claim, whole pipeline
    end_to_end: dict[str, Scores]  # per category, whole pipeline (found and categorised right)
    end_to_end_macro_f1: float
    classification: dict[str, Scores]  # categoriser alone on the labelled claims
    classification_macro_f1: float
    confusion: dict[str, dict[str, int]]  # gold -> predicted, categoriser alone
    by_kind: dict[str, dict[str, float]]  # per article kind: extraction F1, classification accuracy
    polarity_accuracy: float  # agreement with the labels where a polarity is shown
    hedged_accuracy: float
    model_version: str
    errors: list[dict[str, str]] = field(default_factory=list)  # missed and spurious claims
    polarity_shown: float = 0.0  # share of the claims found that are given a polarity
    positive_as_null: int = 0  # claims labelled positive that were shown as null or negative
    # Spurious claims by why the labelled sentence is not a claim (real labels give reasons:
    # narrative, quote, method, background, comparator ...); "unmatched": no labelled sentence
    # lines up with it (a sentence split wrongly), "duplicate": a second claim on one sentence.
    spurious_by_why: dict[str, int] = field(default_factory=dict)


def load_eval_set(models_dir: Path, name: str = "dev", corpus: Path | None = None) -> list[LabelledArticle]:
    if name == REAL_SET:
        articles = load_real(models_dir, corpus, "dev")
        if not articles:
            raise ModelError(f"no real development set in {models_dir / 'real'}")
        return articles
    return load_articles(models_dir / EVAL_SETS[name])


def evaluate(
    eval_set: list[LabelledArticle], extractor: Extractor, classifier: ClaimClassifier, threshold: float
) -> EvaluationReport:
    tp = fp = fn = 0
    per_cat: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    kind_counts: dict[str, Counter[str]] = defaultdict(Counter)
    polarity_hits = polarity_shown = positive_as_null = hedged_hits = matched_claims = 0
    spurious_why: Counter[str] = Counter()
    errors: list[dict[str, str]] = []
    predicted_total = 0
    by_id = {e.article.id: e for e in eval_set}
    for article, sentences in extractor.extract(e.article for e in eval_set):
        item = by_id[article.id]
        claims = classify_sentences(article, sentences, classifier, threshold)
        predicted_total += len(claims)
        found: set[GoldSentence] = set()
        for claim in claims:
            gold = match_gold(claim.sentence, item.gold)
            if gold is not None and gold.category and gold not in found:
                found.add(gold)
                tp += 1
                kind_counts[item.kind]["tp"] += 1
                matched_claims += 1
                if claim.attributes.polarity is not None:
                    polarity_shown += 1
                    polarity_hits += claim.attributes.polarity == gold.polarity
                    positive_as_null += (gold.polarity, claim.attributes.polarity) == (
                        "positive",
                        "null_or_negative",
                    )
                hedged_hits += claim.attributes.hedged == bool(gold.hedged)
                if claim.category == gold.category:
                    per_cat[claim.category]["tp"] += 1
                else:
                    per_cat[claim.category]["fp"] += 1
                    per_cat[gold.category]["fn"] += 1
            else:
                fp += 1
                kind_counts[item.kind]["fp"] += 1
                per_cat[claim.category]["fp"] += 1
                why = "duplicate" if gold is not None and gold.category else "unmatched"
                why = gold.why if gold is not None and gold.why else why
                spurious_why[why] += 1
                errors.append({"error": "spurious", "article": article.id, "predicted": claim.category,
                               "why": why, "text": claim.sentence.text})  # fmt: skip
        for gold in item.gold:
            if gold.category and gold not in found:
                fn += 1
                kind_counts[item.kind]["fn"] += 1
                per_cat[gold.category]["fn"] += 1
                errors.append(
                    {"error": "missed", "article": article.id, "gold": gold.category, "text": gold.text}
                )

    end_to_end = {c: Scores.of(n["tp"], n["fp"], n["fn"]) for c, n in per_cat.items()}
    classification, confusion, kind_accuracy = _classification(eval_set, classifier)
    by_kind = {
        kind: {
            "extraction_f1": Scores.of(n["tp"], n["fp"], n["fn"]).f1,
            "gold_claims": n["tp"] + n["fn"],
            "classification_accuracy": kind_accuracy.get(kind, 0.0),
        }
        for kind, n in sorted(kind_counts.items())
    }
    gold_claims = sum(1 for e in eval_set for g in e.gold if g.category)
    return EvaluationReport(
        articles=len(eval_set),
        sentences=sum(len(e.gold) for e in eval_set),
        gold_claims=gold_claims,
        predicted_claims=predicted_total,
        extraction=Scores.of(tp, fp, fn),
        end_to_end=end_to_end,
        end_to_end_macro_f1=round(sum(s.f1 for s in end_to_end.values()) / len(CATEGORIES), 4),
        classification=classification,
        classification_macro_f1=round(sum(s.f1 for s in classification.values()) / len(CATEGORIES), 4),
        confusion=confusion,
        by_kind=by_kind,
        polarity_accuracy=round(polarity_hits / polarity_shown, 4) if polarity_shown else 0.0,
        polarity_shown=round(polarity_shown / matched_claims, 4) if matched_claims else 0.0,
        positive_as_null=positive_as_null,
        spurious_by_why=dict(spurious_why.most_common()),
        hedged_accuracy=round(hedged_hits / matched_claims, 4) if matched_claims else 0.0,
        model_version=classifier.version,
        errors=errors,
    )


def _classification(
    eval_set: list[LabelledArticle], classifier: ClaimClassifier
) -> tuple[dict[str, Scores], dict[str, dict[str, int]], dict[str, float]]:
    """The categoriser alone, on every labelled claim (what the classifier issue is judged on)."""
    golds = [(e, g) for e in eval_set for g in e.gold if g.category]
    predictions = classifier.categorise([isolated(g.text, e.treatment, e.article.id) for e, g in golds])
    confusion = {c: dict.fromkeys(CATEGORIES, 0) for c in CATEGORIES}
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (item, gold), prediction in zip(golds, predictions, strict=True):
        confusion[gold.category][prediction.category] += 1
        total[item.kind] += 1
        right[item.kind] += prediction.category == gold.category
    scores = {}
    for c in CATEGORIES:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in CATEGORIES if g != c)
        fn = sum(confusion[c][p] for p in CATEGORIES if p != c)
        scores[c] = Scores.of(tp, fp, fn)
    return scores, confusion, {k: round(right[k] / total[k], 4) for k in total}


@dataclass(frozen=True)
class Segmentation:
    """How the extractor's sentence boundaries compare with the labelled ones."""

    sentences: int  # labelled sentences in the articles' text
    wrong_splits: int  # a boundary the extractor puts inside a labelled sentence
    missed_splits: int  # a labelled boundary the extractor does not make
    examples: tuple[str, ...]  # a few of each, for reading


def segmentation(eval_set: list[LabelledArticle], nlp: Language, show: int = 10) -> Segmentation:
    """Compare boundaries within paragraphs (a paragraph break always ends a sentence). A
    boundary is where a sentence starts; starts a few characters apart (an opening quote, a
    bullet) are the same boundary."""
    from monitor.language.extract import sentence_spans

    wrong = missed = total = 0
    examples: list[str] = []
    texts = [item.article.text for item in eval_set]
    for item, doc in zip(eval_set, nlp.pipe(texts, batch_size=32), strict=True):
        text = item.article.text
        gold = sorted((g for g in item.gold if g.unit == "text"), key=lambda g: g.start)
        total += len(gold)
        predicted = [span.start for span in sentence_spans(doc)]
        gold_starts = [g.start for g in gold]

        def near(position: int, starts: list[int]) -> bool:
            return any(abs(position - s) <= 3 for s in starts)

        for g in gold:
            inside = [p for p in predicted if g.start + 3 < p < g.end - 1 and not near(p, gold_starts)]
            wrong += len(inside)
            examples += [
                f"split: ...{text[max(g.start, p - 40) : p]} | {text[p : p + 30]}..." for p in inside
            ]
        for g_start in gold_starts[1:]:
            if "\n\n" in text[max(0, g_start - 4) : g_start]:
                continue  # a paragraph break: always a boundary
            if not near(g_start, predicted):
                missed += 1
                examples.append(
                    f"missed: ...{text[max(0, g_start - 40) : g_start]} | {text[g_start : g_start + 30]}..."
                )
    return Segmentation(total, wrong, missed, tuple(examples[: show * 2]))


def format_report(report: EvaluationReport, set_name: str = "dev") -> str:
    lines = [
        f"{set_name} evaluation set: {report.articles} articles, {report.sentences} sentences, "
        f"{report.gold_claims} labelled claims; model {report.model_version}",
        "",
        "whole pipeline (extract + classify):",
        f"  claim extraction    P {report.extraction.precision:.3f}  R {report.extraction.recall:.3f}  "
        f"F1 {report.extraction.f1:.3f}  ({report.predicted_claims} predicted)",
    ]
    for c, s in report.end_to_end.items():
        lines.append(f"  {c:<19} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  (n={s.support})")
    lines += [
        f"  macro F1 (4 categories) {report.end_to_end_macro_f1:.3f}",
        f"  polarity: shown on {report.polarity_shown:.0%} of the claims found, agreeing with the labels "
        f"on {report.polarity_accuracy:.3f} of those; hedging accuracy {report.hedged_accuracy:.3f}",
        "",
        "classifier alone, on the labelled claims:",
    ]
    for c, s in report.classification.items():
        lines.append(f"  {c:<19} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  (n={s.support})")
    lines.append(f"  macro F1 {report.classification_macro_f1:.3f}")
    lines += [
        "",
        "confusion (rows: label, columns: predicted):",
        "  " + " " * 10 + "".join(f"{c:>10}" for c in CATEGORIES),
    ]
    for c in CATEGORIES:
        lines.append(f"  {c:<10}" + "".join(f"{report.confusion[c][p]:>10}" for p in CATEGORIES))
    if set(report.spurious_by_why) - {"unmatched", "duplicate"}:
        lines += [
            "",
            "spurious claims by why the sentence is not one: "
            + ", ".join(f"{why} {n}" for why, n in report.spurious_by_why.items()),
            f"positive findings shown as null or negative: {report.positive_as_null}",
        ]
    lines += ["", "by article kind:"]
    for kind, row in report.by_kind.items():
        lines.append(
            f"  {kind:<14} extraction F1 {row['extraction_f1']:.3f}  "
            f"classification accuracy {row['classification_accuracy']:.3f}  ({row['gold_claims']} claims)"
        )
    return "\n".join(lines) + "\n"


def run_evaluation(
    settings: Settings,
    threshold: float | None = None,
    errors_out: TextIO | None = None,
    set_name: str = "dev",
    corpus: Path | None = None,
) -> tuple[EvaluationReport, str]:
    """Load the models and an evaluation set ("dev", "heldout" or "real"), evaluate, format."""
    eval_set = load_eval_set(settings.models_dir, set_name, corpus)  # a missing corpus fails fast
    classifier = ClaimClassifier.load(settings.models_dir)
    report = evaluate(
        eval_set,
        extractor_for(eval_set, build_nlp(settings.spacy_model)),
        classifier,
        settings.claim_threshold if threshold is None else threshold,
    )
    if errors_out is not None:
        for error in report.errors:
            errors_out.write(json.dumps(error, ensure_ascii=False) + "\n")
    return report, format_report(report, set_name)


@dataclass(frozen=True)
class RetrainResult:
    report: TrainingReport
    before: dict[str, EvaluationReport]  # set name -> scores of the model before (none: no usable model)
    after: dict[str, EvaluationReport]  # set name -> scores of the new model


def retrain_and_compare(
    settings: Settings, db_path: Path | None, corpus: Path | None = None
) -> RetrainResult:
    """Retrain from models/data (and, with a corpus, the real training articles) plus the
    corrections in the database, and score the evaluation sets with the old and the new model:
    the hand-written development set, and the real development set when the corpus is here."""
    from monitor.language.corrections import as_examples, latest_corrections
    from monitor.language.training import train

    sets = {"dev": load_eval_set(settings.models_dir)}
    if corpus is not None and read_records(settings.models_dir, "dev"):
        sets[REAL_SET] = load_eval_set(settings.models_dir, REAL_SET, corpus)
    nlp = build_nlp(settings.spacy_model)

    def score(classifier: ClaimClassifier) -> dict[str, EvaluationReport]:
        return {
            name: evaluate(items, extractor_for(items, nlp), classifier, settings.claim_threshold)
            for name, items in sets.items()
        }

    try:
        before = score(ClaimClassifier.load(settings.models_dir))
    except ModelError:
        before = {}
    corrections = as_examples(latest_corrections(db_path)) if db_path else []
    report = train(settings.models_dir, corrections, corpus=corpus)
    after = score(ClaimClassifier.load(settings.models_dir))
    return RetrainResult(report, before, after)
