"""Label real sentences of ../shared/corpus by pointing into it, never copying it.

A labeller works on a draft (a plain-text file outside the project) that shows each sentence of
one corpus article with its character offsets; they fix wrong sentence boundaries with `split`
and `merge`, then write a label under every sentence. `compile` turns finished drafts into the
project's label records (models/real/*.jsonl): file, id, offsets and labels, with no corpus text.

    python scripts/label_real.py init health-news/health_news.jsonl HealthStory:story_reviews_00005 -o D
    python scripts/label_real.py split D S7 "The FDA"      # S7 becomes S7a and S7b at that text
    python scripts/label_real.py merge D S12               # S12 and the next sentence become S12
    python scripts/label_real.py apply D LABELS            # LABELS: lines "S3 none why=method about=y"
    python scripts/label_real.py check D [D ...]           # every sentence labelled, grammar right
    python scripts/label_real.py compile D [D ...] -o models/real/batch.jsonl

A label line under a sentence:

    = none why=<why> about=<y|n>
    = <efficacy|safety|duration|cost> pol=<pos|null|neu> [sec=<category>] [hedged]

why: narrative quote method background comparator research boilerplate fragment other_treatment
     announcement other.  about: the sentence names the treatment or refers back to it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("efficacy", "safety", "duration", "cost")
WHY = (
    "narrative",
    "quote",
    "method",
    "background",
    "comparator",
    "research",
    "boilerplate",
    "fragment",
    "other_treatment",
    "announcement",
    "other",
)
POLARITY = {"pos": "positive", "null": "null_or_negative", "neu": "neutral"}
KINDS = ("news", "press_release", "abstract", "registration")
_SENTENCE = re.compile(r"^(?P<sid>T|S\d+[a-z]*) \[(?P<start>\d+):(?P<end>\d+)\] ?(?P<text>.*)$")


def corpus_root() -> Path:
    env = os.environ.get("MONITOR_CORPUS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def read_record(file: str, record_id: str) -> dict:
    path = corpus_root() / file
    key = "paper_id" if file.startswith("scientific-claims") else "id"
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if str(row.get(key)) == record_id:
                if "text" not in row:  # scientific-claims: the abstract is the text
                    row["text"], row["title"] = row["abstract"], row.get("title", "")
                return row
    raise SystemExit(f"{record_id} not in {path}")


def default_region(file: str, text: str) -> int:
    """Where the part to label ends: a PMC record's abstract stops where its body begins."""
    if "ketamine-texts" in file:
        body = text.find("\nBODY.")
        if body > 0:
            return body
    return len(text)


@dataclass
class Line:
    sid: str
    start: int
    end: int
    label: str = "?"
    paragraph_break: bool = False  # a blank line (paragraph) comes before this sentence


@dataclass
class Draft:
    header: dict[str, str]
    lines: list[Line] = field(default_factory=list)

    @property
    def fixes(self) -> dict[str, int]:
        found = re.findall(r"(\d+) (splits|merges)", self.header.get("fixes", ""))
        counts = {"splits": 0, "merges": 0}
        counts.update({name: int(n) for n, name in found})
        return counts

    def count_fix(self, name: str) -> None:
        counts = self.fixes
        counts[name] += 1
        self.header["fixes"] = f"{counts['splits']} splits, {counts['merges']} merges"


@functools.cache
def _nlp():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from monitor.language.extract import build_nlp

    return build_nlp()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans as the monitor's extractor splits the text today (every sentence, not
    only the candidates), without an abstract heading and surrounding white space."""
    doc = _nlp()(text)
    headings = {span.start: span for span in doc.spans.get("headings", [])}
    spans = []
    for sent in doc.sents:
        heading = headings.get(sent.start)
        start = heading.end_char if heading is not None else sent.start_char
        end = sent.end_char
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def init(file: str, record_id: str, kind: str, out: Path) -> None:
    row = read_record(file, record_id)
    text, title = row["text"], row.get("title") or ""
    region = default_region(file, text)
    header = {
        "file": file,
        "id": record_id,
        "kind": kind,
        "region": f"0 {region}",
        "treatment": "?",
        "fixes": "0 splits, 0 merges",
    }
    draft = Draft(header)
    if title.strip():
        draft.lines.append(Line("T", 0, len(title)))
    for n, (start, end) in enumerate(split_sentences(text[:region]), 1):
        draft.lines.append(Line(f"S{n}", start, end))
    write(draft, out)


def write(draft: Draft, out: Path) -> None:
    row = read_record(draft.header["file"], draft.header["id"])
    text, title = row["text"], row.get("title") or ""
    parts = [f"# {key}: {value}" for key, value in draft.header.items()]
    previous_end = None
    for line in draft.lines:
        source = title if line.sid == "T" else text
        if line.sid != "T" and previous_end is not None and "\n\n" in text[previous_end : line.start]:
            parts.append("¶")
        shown = " ".join(source[line.start : line.end].split())
        parts.append(f"{line.sid} [{line.start}:{line.end}] {shown}")
        parts.append(f"= {line.label}")
        if line.sid != "T":
            previous_end = line.end
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")


def read(path: Path) -> Draft:
    header: dict[str, str] = {}
    lines: list[Line] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("# ") and ":" in raw and not lines:
            key, value = raw[2:].split(":", 1)
            header[key.strip()] = value.strip()
        elif match := _SENTENCE.match(raw):
            lines.append(Line(match["sid"], int(match["start"]), int(match["end"])))
        elif raw.startswith("="):
            if not lines:
                raise SystemExit(f"{path}: a label before any sentence")
            lines[-1].label = raw[1:].strip()
    return Draft(header, lines)


def parse_label(label: str) -> dict:
    """One label line as a record, or ValueError with the reason."""
    words = label.split()
    if not words or words[0] == "?":
        raise ValueError("not labelled yet")
    head, options = words[0], dict(w.split("=", 1) if "=" in w else (w, "1") for w in words[1:])
    if head == "none":
        if options.get("why") not in WHY:
            raise ValueError(f"none needs why=<{'|'.join(WHY)}>")
        if options.get("about") not in ("y", "n"):
            raise ValueError("none needs about=y or about=n")
        return {"label": "none", "why": options["why"], "about": options["about"] == "y"}
    if head not in CATEGORIES:
        raise ValueError(f"unknown label {head!r}")
    if options.get("pol") not in POLARITY:
        raise ValueError("a claim needs pol=pos|null|neu")
    record = {"label": head, "about": True, "polarity": POLARITY[options["pol"]]}
    if "sec" in options:
        if options["sec"] not in CATEGORIES or options["sec"] == head:
            raise ValueError("sec= must be another category")
        record["secondary"] = options["sec"]
    record["hedged"] = "hedged" in options
    return record


def treatment(header: dict[str, str]) -> dict:
    value = header.get("treatment", "?")
    if "|" not in value:
        raise ValueError("treatment: write 'name | term; term; ...'")
    name, terms = value.split("|", 1)
    names = [t.strip() for t in terms.split(";") if t.strip()]
    if not name.strip() or not names:
        raise ValueError("treatment needs a name and at least one term")
    return {"name": name.strip(), "terms": names}


def check(path: Path) -> list[str]:
    draft = read(path)
    problems = []
    try:
        treatment(draft.header)
    except ValueError as exc:
        problems.append(f"{path.name}: {exc}")
    if draft.header.get("kind") not in KINDS:
        problems.append(f"{path.name}: kind must be one of {', '.join(KINDS)}")
    problems += [f"{path.name} {p}" for p in check_spans(draft)]
    for line in draft.lines:
        try:
            parse_label(line.label)
        except ValueError as exc:
            problems.append(f"{path.name} {line.sid}: {exc}")
    return problems


def check_spans(draft: Draft) -> list[str]:
    """Sentences in order, not overlapping, inside the region."""
    problems = []
    region_end = int(draft.header.get("region", "0 0").split()[1])
    previous = 0
    for line in draft.lines:
        if line.sid == "T":
            continue
        if line.start < previous or line.end <= line.start or line.end > region_end:
            where = f"[{line.start}:{line.end}]"
            problems.append(f"{line.sid}: offsets {where} out of order or outside the region")
        previous = line.end
    return problems


def apply(path: Path, labels: str) -> None:
    draft = read(path)
    by_sid = {line.sid: line for line in draft.lines}
    for raw in labels.splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        if raw.startswith("treatment:"):
            draft.header["treatment"] = raw.split(":", 1)[1].strip()
            treatment(draft.header)
            continue
        sid, _, label = raw.partition(" ")
        if sid not in by_sid:
            raise SystemExit(f"no sentence {sid} in {path.name}")
        try:
            parse_label(label.strip())
        except ValueError as exc:
            raise SystemExit(f"{sid}: {exc}") from None
        by_sid[sid].label = label.strip()
    write(draft, path)


def find(draft: Draft, sid: str) -> int:
    for index, line in enumerate(draft.lines):
        if line.sid == sid:
            return index
    raise SystemExit(f"no sentence {sid}")


def split(path: Path, sid: str, at: str) -> None:
    draft = read(path)
    index = find(draft, sid)
    line = draft.lines[index]
    row = read_record(draft.header["file"], draft.header["id"])
    source = row.get("title", "") if sid == "T" else row["text"]
    # Match the text as shown (white space collapsed) against the original.
    pattern = r"\s+".join(re.escape(word) for word in at.split())
    match = re.compile(pattern).search(source, line.start + 1, line.end)
    if match is None:
        raise SystemExit(f"{at!r} not found inside {sid}")
    cut = match.start()
    first_end = cut
    while first_end > line.start and source[first_end - 1].isspace():
        first_end -= 1
    draft.lines[index : index + 1] = [
        Line(sid + "a", line.start, first_end),
        Line(sid + "b", cut, line.end),
    ]
    draft.count_fix("splits")
    write(draft, path)


def merge(path: Path, sid: str) -> None:
    draft = read(path)
    index = find(draft, sid)
    if index + 1 >= len(draft.lines) or draft.lines[index + 1].sid == "T":
        raise SystemExit(f"{sid} has no following sentence")
    first, second = draft.lines[index], draft.lines[index + 1]
    draft.lines[index : index + 2] = [Line(first.sid, first.start, second.end)]
    draft.count_fix("merges")
    write(draft, path)


def compile_drafts(paths: list[Path], labeller: str | None) -> list[dict]:
    records = []
    for path in paths:
        problems = check(path)
        if problems:
            raise SystemExit("\n".join(problems))
        draft = read(path)
        sentences = []
        for line in draft.lines:
            sentence = {"unit": "title" if line.sid == "T" else "text", "start": line.start, "end": line.end}
            sentences.append(sentence | parse_label(line.label))
        start, end = (int(v) for v in draft.header["region"].split())
        records.append(
            {
                "file": draft.header["file"],
                "id": draft.header["id"],
                "kind": draft.header["kind"],
                "region": [start, end],
                "treatment": treatment(draft.header),
                "labeller": labeller or draft.header.get("labeller", ""),
                "fixes": draft.fixes,
                "sentences": sentences,
            }
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("init")
    p.add_argument("file")
    p.add_argument("id")
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("-o", "--out", type=Path, required=True)
    p = commands.add_parser("split")
    p.add_argument("draft", type=Path)
    p.add_argument("sid")
    p.add_argument("at")
    p = commands.add_parser("merge")
    p.add_argument("draft", type=Path)
    p.add_argument("sid")
    p = commands.add_parser("apply")
    p.add_argument("draft", type=Path)
    p.add_argument("labels", type=Path, help="file of 'SID label' lines, or - for stdin")
    p = commands.add_parser("check")
    p.add_argument("drafts", type=Path, nargs="+")
    p = commands.add_parser("compile")
    p.add_argument("drafts", type=Path, nargs="+")
    p.add_argument("--labeller")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "init":
        init(args.file, args.id, args.kind, args.out)
    elif args.command == "split":
        split(args.draft, args.sid, args.at)
    elif args.command == "merge":
        merge(args.draft, args.sid)
    elif args.command == "apply":
        apply(args.draft, sys.stdin.read() if str(args.labels) == "-" else args.labels.read_text())
    elif args.command == "check":
        problems = [p for d in args.drafts for p in check(d)]
        print("\n".join(problems) or f"{len(args.drafts)} drafts complete")
        sys.exit(1 if problems else 0)
    else:
        records = compile_drafts(args.drafts, args.labeller)
        with args.out.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"{len(records)} articles, {sum(len(r['sentences']) for r in records)} sentences -> {args.out}")


if __name__ == "__main__":
    main()
