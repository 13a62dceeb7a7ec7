"""What the claim models read: the sentence with the treatment masked, marks for where it
stands in its article, and its neighbours.

A model input is one row of four texts:

0. the sentence, normalised: lower case, digits as 0, every mention of the treatment followed
   (ketamine's forms, or the drug a story is about) as the one word "ketamine", so a claim's
   shape is learned whatever the drug;
1. context marks, one word each: title, lead sentence, first/last paragraph, inside a
   quotation, attributed ("said", "according to"), first person, the abstract section it falls
   under, a comparator or placebo named without the treatment, no treatment named at all;
2. the sentence before it and 3. the sentence after it, normalised the same way.

A sentence given on its own (`monitor classify`, the hand-written training rows) has no
neighbours and carries the mark `__isolated__` (in place of its neighbours too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from monitor.language.lexicon import HEADING_RE, KETAMINE, Treatment, is_methods_section
from monitor.records import Sentence

MASK = "ketamine"
COLUMNS = 4
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# Appended to a sentence that does not name the treatment ("The infusions lifted her within a
# day"): such sentences reach the models only from articles about it, and far more of them are
# narrative than of the sentences that name it. A linear model cannot learn from a word's
# absence, so the absence is made a word.
IMPLICIT_MARK = " __implicit__"

ATTRIBUTION_RE = re.compile(
    r"\b(?:said|says|say|told|tells|according to|explained|explains|added|adds|noted|notes|"
    r"wrote|writes|argued|argues|cautioned|cautions|warned|warns|recalled|recalls|stated|states)\b",
    re.IGNORECASE,
)
FIRST_PERSON_RE = re.compile(r"\b(?:I|I'm|I've|I'd|my|me|mine|myself|we|our|us)\b|\bI\u2019[a-z]+")
COMPARATOR_RE = re.compile(
    r"\b(?:placebo|sham|control(?:s| group| arm)?|comparator|saline|usual care|standard care|"
    r"midazolam|waitlist|wait-list)\b",
    re.IGNORECASE,
)


def mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """text with each span replaced by the mask word."""
    parts, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        parts += [text[last:start], f" {MASK} "]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def normalise(text: str, spans: Sequence[tuple[int, int]] | None = None) -> str:
    """What the word features see: the abstract heading left out, the treatment masked (at
    `spans`, else wherever ketamine is named), digits collapsed ("$600" and "64%" are the
    signal, not their size), lower case, and the implicit mark when the treatment is not named."""
    if spans is None:
        spans = KETAMINE.spans(text)
    heading = HEADING_RE.match(text)
    if heading is not None:
        cut = heading.end()
        text = text[cut:]
        spans = [(a - cut, b - cut) for a, b in spans if a >= cut]
    implicit = "" if spans else IMPLICIT_MARK
    return _fold(text, spans) + implicit


def _fold(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The treatment masked at spans, lower case, digits collapsed."""
    return _NUMBER.sub("0", mask(text, spans).lower())


def _plain(text: str) -> str:
    """A neighbouring sentence as the word features see it (no implicit mark)."""
    return _fold(text, KETAMINE.spans(text))


def context_marks(sentence: Sentence) -> str:
    """The marks for a sentence's place in its article (column 1)."""
    text = sentence.text
    context = sentence.context
    marks = []
    if sentence.unit == "title":
        marks.append("__title__")
    if context is None:
        marks.append("__isolated__")
    else:
        if sentence.unit != "title":  # the feed's text or the page's: the same marks
            if context.paragraph == 0 and context.in_paragraph == 0:
                marks.append("__lead__")
            marks.append(f"__paragraph_{min(context.paragraph, 3)}__")
            if context.paragraphs > 2 and context.paragraph == context.paragraphs - 1:
                marks.append("__last_paragraph__")
            marks.append("__first_in_paragraph__" if context.in_paragraph == 0 else "__later_in_paragraph__")
            # Which third of the text it stands in, and the closing sentences (an abstract's
            # conclusion, a story's kicker).
            marks.append(f"__third_{min(2, 3 * context.index // max(1, context.sentences))}__")
            if context.sentences > 3 and context.index >= context.sentences - 2:
                marks.append("__closing__")
        marks.append(f"__quote_{context.quote}__")
    if ATTRIBUTION_RE.search(text):
        marks.append("__attributed__")
    if FIRST_PERSON_RE.search(text):
        marks.append("__first_person__")
    if text.rstrip().endswith("?"):
        marks.append("__question__")
    if len(text.split()) < 6:
        marks.append("__short__")
    if sentence.section:
        kind = "methods" if is_methods_section(sentence.section) else sentence.section.split()[0]
        marks.append(f"__section_{kind}__")
    named = bool(context.spans) if context is not None else bool(sentence.mentions)
    if not named:
        marks.append("__unnamed__")
        if COMPARATOR_RE.search(text):
            marks.append("__comparator_only__")
    return " ".join(marks)


def model_input(sentence: Sentence) -> list[str]:
    """The four texts a model reads for one sentence."""
    context = sentence.context
    spans = context.spans if context is not None else None
    # The extractor hands neighbours over with the treatment already masked. Where there is
    # none, a word says why: the start or end of the text, or a sentence given on its own.
    if context is None:
        neighbours = ["__isolated__", "__isolated__"]
    else:
        neighbours = [_plain(context.previous) or "__start__", _plain(context.next) or "__end__"]
    return [normalise(sentence.text, spans), context_marks(sentence), *neighbours]


def isolated(text: str, treatment: Treatment = KETAMINE, article_id: str = "") -> Sentence:
    """A sentence given on its own, as a Sentence with no context."""
    spans = treatment.spans(text)
    return Sentence(article_id, text, "text", 0, len(text), tuple(text[a:b] for a, b in spans), bool(spans))


def model_rows(items: Sequence[Sentence | str]) -> np.ndarray:
    """Rows of model input, one per sentence (a plain string is a sentence on its own)."""
    rows = [model_input(isolated(item) if isinstance(item, str) else item) for item in items]
    return np.array(rows, dtype=object).reshape(len(rows), COLUMNS)
