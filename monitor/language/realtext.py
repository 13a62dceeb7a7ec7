"""Real articles, labelled by pointing into ../shared/corpus (models/real), never copied.

Each line of models/real/{train,dev}.jsonl names a corpus file and a record id, the part of the
record's text that was labelled (`region`), the treatment the article is about and the words
that name it, and every sentence as character offsets with its label. The texts themselves stay
in the corpus: this module reads them from there, checks they are the texts that were labelled
(`sha256`), and rebuilds each article as the feed parser would hand it over.

`train` articles teach the models (with the hand-written data); `dev` articles are held back
and only measured (`monitor evaluate --set real`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from monitor.errors import ModelError
from monitor.language.labelled import GoldSentence, LabelledArticle
from monitor.language.lexicon import KETAMINE, Treatment
from monitor.records import Article

REAL_DIR = "real"
SPLITS = ("train", "dev")
# Evidence tier each kind of real article would have come in with.
TIERS = {"news": "news", "press_release": "press release", "abstract": "peer-reviewed"}


def default_corpus() -> Path | None:
    """$MONITOR_CORPUS, else ../shared/corpus beside the checkout, when it exists."""
    env = os.environ.get("MONITOR_CORPUS")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    return beside if beside.is_dir() else None


def label_files(models_dir: Path, split: str) -> list[Path]:
    if split not in SPLITS:
        raise ModelError(f"unknown split {split!r}")
    path = models_dir / REAL_DIR / f"{split}.jsonl"
    return [path] if path.is_file() else []


def read_records(models_dir: Path, split: str) -> list[dict]:
    records = []
    for path in label_files(models_dir, split):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ModelError(f"{path.name}:{number}: not JSON ({exc})") from exc
    return records


def text_sha256(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n\n{text}".encode()).hexdigest()[:16]


class Corpus:
    """The corpus files, each read once, indexed by record id."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ModelError(f"no corpus at {root} (set MONITOR_CORPUS or pass --corpus)")
        self.root = root
        self._files: dict[str, dict[str, dict]] = {}

    def record(self, file: str, record_id: str) -> dict:
        if file not in self._files:
            path = self.root / file
            if not path.is_file():
                raise ModelError(f"the corpus at {self.root} has no {file}")
            rows: dict[str, dict] = {}
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    row = json.loads(line)
                    rows[str(row.get("id", row.get("paper_id")))] = row
            self._files[file] = rows
        try:
            return self._files[file][record_id]
        except KeyError:
            raise ModelError(f"{file} in the corpus has no record {record_id}") from None


def load_real(models_dir: Path, corpus: Path | None, split: str) -> list[LabelledArticle]:
    """The labelled real articles of a split, rebuilt from the corpus."""
    records = read_records(models_dir, split)
    if not records:
        return []
    if corpus is None:
        raise ModelError(
            "the real articles are labelled in ../shared/corpus, which is not here "
            "(set MONITOR_CORPUS or pass --corpus)"
        )
    source = Corpus(corpus)
    return [rebuild(record, source.record(record["file"], record["id"])) for record in records]


def rebuild(record: dict, row: dict) -> LabelledArticle:
    start, end = record["region"]
    title, text = row.get("title") or "", row["text"][start:end]
    if record.get("sha256") and text_sha256(title, text) != record["sha256"]:
        raise ModelError(f"{record['file']} {record['id']} is not the text that was labelled")
    treatment = record["treatment"]
    kind = record["kind"]
    article = Article(
        id=f"real:{record['id']}",
        url=row.get("url"),
        title=title,
        text=text,
        source=record["file"].split("/")[0],
        feed_url="",
        evidence_tier=TIERS.get(kind, "news"),
    )
    gold = []
    for s in record["sentences"]:
        # Offsets point into the corpus record; the article's text starts at the region's start.
        source_text, offset = (title, 0) if s["unit"] == "title" else (text, start)
        a, b = s["start"] - offset, s["end"] - offset
        claim = s["label"] != "none"
        gold.append(
            GoldSentence(
                unit=s["unit"],
                start=a,
                end=b,
                text=source_text[a:b],
                category=s["label"] if claim else None,
                polarity=s.get("polarity") if claim else None,
                hedged=s.get("hedged") if claim else None,
                secondary=s.get("secondary") if claim else None,
                why=None if claim else s.get("why"),
                about=s.get("about"),
            )
        )
    if treatment["name"].lower() == "ketamine":
        tracked = KETAMINE
    else:
        tracked = Treatment.named(treatment["name"], treatment["terms"])
    return LabelledArticle(article, kind, tuple(gold), f"real-{record['labeller'] or 'x'}", tracked)
