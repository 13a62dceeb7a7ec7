"""How well the whole pipeline does on the hand-labelled evaluation articles in models/eval.

Every sentence of every evaluation article is labelled claim / not claim (and category,
polarity, hedging for claims). The extractor and classifier run on the rebuilt articles
exactly as in production; predicted claims are matched to labelled sentences by character
overlap, so a segmentation mistake costs what it would cost an editor.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.classify import ClaimClassifier
from monitor.config import Settings
from monitor.errors import ModelError
from monitor.extract import SentenceExtractor, build_nlp
from monitor.labelled import GoldSentence, LabelledArticle, load_articles
from monitor.pipeline import Extractor, classify_sentences
from monitor.records import CATEGORIES, Claim
from monitor.training import TrainingReport

# The development set guided error analysis and the choice among model variants; the held-out
# set was written afterwards, by someone who never saw the development set, and is only ever
# measured, never tuned on (models/README.md).
EVAL_SETS = {"dev": "eval", "heldout": "heldout"}


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
    polarity_accuracy: float
    hedged_accuracy: float
    model_version: str
    errors: list[dict[str, str]] = field(default_factory=list)  # missed and spurious claims


def load_eval_set(models_dir: Path, name: str = "dev") -> list[LabelledArticle]:
    return load_articles(models_dir / EVAL_SETS[name])


def _match(claim: Claim, gold: Iterable[GoldSentence]) -> GoldSentence | None:
    """The labelled sentence this prediction covers: the one it overlaps most, if the overlap
    is at least half of the shorter of the two."""
    s = claim.sentence
    best, best_overlap = None, 0
    for g in gold:
        if g.unit != s.unit:
            continue
        overlap = min(g.end, s.end) - max(g.start, s.start)
        if overlap > best_overlap:
            best, best_overlap = g, overlap
    if best is None or best_overlap < 0.5 * min(best.end - best.start, s.end - s.start):
        return None
    return best


def evaluate(
    eval_set: list[LabelledArticle], extractor: Extractor, classifier: ClaimClassifier, threshold: float
) -> EvaluationReport:
    tp = fp = fn = 0
    per_cat: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    kind_counts: dict[str, Counter[str]] = defaultdict(Counter)
    polarity_hits = hedged_hits = matched_claims = 0
    errors: list[dict[str, str]] = []
    predicted_total = 0
    by_id = {e.article.id: e for e in eval_set}
    for article, sentences in extractor.extract(e.article for e in eval_set):
        item = by_id[article.id]
        claims = classify_sentences(article, sentences, classifier, threshold)
        predicted_total += len(claims)
        found: set[GoldSentence] = set()
        for claim in claims:
            gold = _match(claim, item.gold)
            if gold is not None and gold.category and gold not in found:
                found.add(gold)
                tp += 1
                kind_counts[item.kind]["tp"] += 1
                matched_claims += 1
                polarity_hits += claim.attributes.polarity == gold.polarity
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
                errors.append({"error": "spurious", "article": article.id, "predicted": claim.category,
                               "text": claim.sentence.text})  # fmt: skip
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
        polarity_accuracy=round(polarity_hits / matched_claims, 4) if matched_claims else 0.0,
        hedged_accuracy=round(hedged_hits / matched_claims, 4) if matched_claims else 0.0,
        model_version=classifier.version,
        errors=errors,
    )


def _classification(
    eval_set: list[LabelledArticle], classifier: ClaimClassifier
) -> tuple[dict[str, Scores], dict[str, dict[str, int]], dict[str, float]]:
    """The categoriser alone, on every labelled claim (what the classifier issue is judged on)."""
    golds = [(e.kind, g) for e in eval_set for g in e.gold if g.category]
    predictions = classifier.categorise([g.text for _, g in golds])
    confusion = {c: dict.fromkeys(CATEGORIES, 0) for c in CATEGORIES}
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (kind, gold), prediction in zip(golds, predictions, strict=True):
        confusion[gold.category][prediction.category] += 1
        total[kind] += 1
        right[kind] += prediction.category == gold.category
    scores = {}
    for c in CATEGORIES:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in CATEGORIES if g != c)
        fn = sum(confusion[c][p] for p in CATEGORIES if p != c)
        scores[c] = Scores.of(tp, fp, fn)
    return scores, confusion, {k: round(right[k] / total[k], 4) for k in total}


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
        f"  polarity accuracy {report.polarity_accuracy:.3f}, hedging accuracy {report.hedged_accuracy:.3f}"
        " (on claims found)",
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
) -> tuple[EvaluationReport, str]:
    """Load the models and an evaluation set ("dev" or "heldout"), evaluate, format."""
    classifier = ClaimClassifier.load(settings.models_dir)
    extractor = SentenceExtractor(build_nlp(settings.spacy_model))
    report = evaluate(
        load_eval_set(settings.models_dir, set_name),
        extractor,
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
    before: EvaluationReport | None  # None when there was no loadable model before
    after: EvaluationReport


def retrain_and_compare(settings: Settings, db_path: Path | None) -> RetrainResult:
    """Retrain from models/data plus the corrections in the database, and score the
    evaluation set with the old and the new model."""
    from monitor.corrections import as_examples, latest_corrections
    from monitor.training import train

    eval_set = load_eval_set(settings.models_dir)
    extractor = SentenceExtractor(build_nlp(settings.spacy_model))
    try:
        old = ClaimClassifier.load(settings.models_dir)
        before = evaluate(eval_set, extractor, old, settings.claim_threshold)
    except ModelError:
        before = None
    corrections = as_examples(latest_corrections(db_path)) if db_path else []
    report = train(settings.models_dir, corrections)
    after = evaluate(eval_set, extractor, ClaimClassifier.load(settings.models_dir), settings.claim_threshold)
    return RetrainResult(report, before, after)
