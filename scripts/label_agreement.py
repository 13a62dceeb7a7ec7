"""Agreement between two labellers on the real articles both labelled independently.

models/real/second.jsonl holds the second labeller's version of each shared article; the first
version is in train.jsonl or dev.jsonl. Sentences are compared where both put the same
boundaries (same unit and offsets, give or take surrounding quote marks). Needs no corpus: the
labels are all it reads.

    .venv/bin/python scripts/label_agreement.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "models" / "real"


def read(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    return {r["id"]: r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())}


def kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa of two labellers' labels on the same items."""
    n = len(pairs)
    if not n:
        return float("nan")
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def main() -> None:
    first = read(REAL / "train.jsonl") | read(REAL / "dev.jsonl")
    second = read(REAL / "second.jsonl")
    shared = [i for i in second if i in first]
    labels: list[tuple[str, str]] = []
    claims: list[tuple[str, str]] = []
    polarity: list[tuple[str, str]] = []
    boundaries = same_treatment = 0
    total = 0
    for record_id in shared:
        a, b = first[record_id], second[record_id]
        same_treatment += a["treatment"]["name"].lower() == b["treatment"]["name"].lower()
        b_by_span = {(s["unit"], s["start"], s["end"]): s for s in b["sentences"]}
        total += len(a["sentences"])
        for s in a["sentences"]:
            t = b_by_span.get((s["unit"], s["start"], s["end"]))
            if t is None:
                continue
            boundaries += 1
            labels.append((s["label"], t["label"]))
            claims.append((s["label"] != "none", t["label"] != "none"))
            if s["label"] == t["label"] != "none":
                polarity.append((s.get("polarity"), t.get("polarity")))
    print(f"{len(shared)} articles labelled twice, {total} sentences; same boundaries for {boundaries}")
    print(f"same treatment named: {same_treatment} of {len(shared)}")
    agree = sum(x == y for x, y in claims) / len(claims)
    print(f"claim / not a claim: {agree:.3f} agreement, kappa {kappa(claims):.3f}")
    agree = sum(x == y for x, y in labels) / len(labels)
    print(f"five labels (four categories and none): {agree:.3f} agreement, kappa {kappa(labels):.3f}")
    both = [(x, y) for x, y in labels if x != "none" and y != "none"]
    agree = sum(x == y for x, y in both) / len(both)
    print(
        f"category where both call it a claim ({len(both)}): {agree:.3f} agreement, kappa {kappa(both):.3f}"
    )
    agree = sum(x == y for x, y in polarity) / len(polarity)
    print(f"polarity where both give the same category ({len(polarity)}): {agree:.3f} agreement")
    confusion = Counter((x, y) for x, y in labels if x != y)
    print(
        "commonest disagreements (first, second):",
        ", ".join(f"{x}/{y} {n}" for (x, y), n in confusion.most_common(6)),
    )


if __name__ == "__main__":
    main()
