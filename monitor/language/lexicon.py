"""The words that name ketamine and its forms, shared by the extractor and the classifier.

What the monitor tracks is a `Treatment`: ketamine by default (`KETAMINE`), or any other drug
named by a list of terms (`Treatment.named`). Its mentions are found, and masked for the models,
the same way whatever the drug, so a claim's shape is learned from claims about any treatment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.records import Article

# Forms and brand names. The look-behind keeps "(S)-ketamine" and "S-ketamine"
# whole, and "norketamine" (a metabolite, not a treatment) out.
KETAMINE_RE = re.compile(
    r"(?<![\w(])(?:\((?:S|R|R,S|RS)\)-?|[SR]-)?(?:es|ar)?ketamines?\b"
    r"|\b(?:spravato|ketalar|ketanest)\b",
    re.IGNORECASE,
)
# Abbreviation of ketamine-assisted psychotherapy: capitals only, "kap" is a word elsewhere.
KAP_RE = re.compile(r"\bKAP\b")
# "Special K" names ketamine only where drugs are the subject nearby.
SPECIAL_K_RE = re.compile(r"\bSpecial[ -]K\b")
DRUG_CONTEXT_RE = re.compile(
    r"\b(?:drugs?|part(?:y|ies)|club|festival|recreational|snort\w*|dealer\w*|tranquil+i[sz]er|"
    r"overdos\w*|high|dose|dissociat\w*|powder|gram|grams|addict\w*|k-hole|ketamine)\b",
    re.IGNORECASE,
)

# What the article calls ketamine once it has been introduced.
ANAPHOR_RE = re.compile(
    r"\b(?:the|this|these|such|its?|each|a|an|one|first|second|third|six|further|repeat(?:ed)?)?\s*"
    r"(?:drug|treatment|therapy|medication|medicine|infusions?|spray|nasal spray|doses?|sessions?|"
    r"compound|anaesthetic|anesthetic)s?\b"
    r"|\b(?:it|its)\b",
    re.IGNORECASE,
)

# Named treatments other than ketamine: a sentence about one of these alone is not about ketamine.
OTHER_TREATMENT_RE = re.compile(
    r"\b(?:ssris?|snris?|sertraline|fluoxetine|prozac|escitalopram|citalopram|paroxetine|"
    r"venlafaxine|duloxetine|bupropion|mirtazapine|quetiapine|aripiprazole|lithium|psilocybin|"
    r"mdma|lsd|zuranolone|brexanolone|auvelity|dextromethorphan|electroconvulsive|ect|tms|"
    r"transcranial|deep brain stimulation|lamotrigine|nitrous oxide|propofol|midazolam)\b",
    re.IGNORECASE,
)


# Substrings one of which every mention contains (lower case), and KAP: most texts have none,
# and str.find over them costs a fraction of running the patterns over the whole text.
_MENTION_HINTS = ("ketamin", "spravato", "ketalar", "ketanest", "special")


def _may_mention(text: str) -> bool:
    lower = text.lower()
    return any(hint in lower for hint in _MENTION_HINTS) or "KAP" in text


def ketamine_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of every ketamine mention, including KAP and Special K in context."""
    if not _may_mention(text):
        return []
    spans = [(m.start(), m.end()) for m in KETAMINE_RE.finditer(text)]
    spans += [(m.start(), m.end()) for m in KAP_RE.finditer(text)]
    for match in SPECIAL_K_RE.finditer(text):
        window = text[max(0, match.start() - 120) : match.end() + 120]
        if DRUG_CONTEXT_RE.search(window.replace(match.group(), "")):
            spans.append((match.start(), match.end()))
    return sorted(spans)


def mentions_ketamine(text: str) -> bool:
    """The cheap prefilter: does the text name ketamine at all?"""
    if not _may_mention(text):
        return False
    return KETAMINE_RE.search(text) is not None or bool(ketamine_spans(text))


@dataclass(frozen=True)
class Treatment:
    """What the monitor follows: a name, and the pattern of the words that name it."""

    name: str
    pattern: re.Pattern[str]

    @classmethod
    def named(cls, name: str, terms: tuple[str, ...] | list[str]) -> Treatment:
        """A treatment named by literal terms ("rivaroxaban", "Xarelto"): whole words, any case,
        plural or possessive endings allowed; longer terms first, so "Xarelto XR" wins over
        "Xarelto"."""
        words = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
        if not words:
            raise ValueError(f"treatment {name!r} needs at least one term")
        alternatives = "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in words)
        return cls(name, re.compile(rf"(?<![\w-])(?:{alternatives})(?:s|es|['\u2019]s)?(?![\w-])", re.I))

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self is KETAMINE:
            return ketamine_spans(text)
        return [(m.start(), m.end()) for m in self.pattern.finditer(text)]

    def mentioned_in(self, text: str) -> bool:
        if self is KETAMINE:
            return mentions_ketamine(text)
        return self.pattern.search(text) is not None


# KAP and "Special K" need their context, so ketamine's spans come from ketamine_spans.
KETAMINE = Treatment("ketamine", KETAMINE_RE)


# Forms and routes, most specific first; the first that matches a sentence names its form.
FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ketamine-assisted psychotherapy", re.compile(r"ketamine[- ]assisted (?:psycho)?therap|\bKAP\b", re.I)),
    ("arketamine", re.compile(r"\barketamine|\(R\)-ketamine|\bR-ketamine", re.I)),
    (
        "esketamine nasal spray",
        re.compile(r"\besketamine|\bspravato|\(S\)-ketamine|\bS-ketamine|\bketanest", re.I),
    ),
    ("intranasal ketamine", re.compile(r"\b(?:intranasal|nasal spray|nasal)\b", re.I)),
    ("IV ketamine", re.compile(r"\b(?:intravenous(?:ly)?|i\.v\.|IV|infusions?|infused)(?![\w.])", re.I)),
    ("IM ketamine", re.compile(r"\b(?:intramuscular(?:ly)?|i\.m\.)(?![\w.])|\bIM\b")),
    ("oral ketamine", re.compile(r"\b(?:oral(?:ly)?|lozenges?|troches?|tablets?|sublingual)\b", re.I)),
    ("subcutaneous ketamine", re.compile(r"\b(?:subcutaneous(?:ly)?|s\.c\.)(?![\w.])", re.I)),
)


def ketamine_form(*texts: str) -> str | None:
    """The form or route stated in the first text that states one (sentence, then title)."""
    for text in texts:
        if not text:
            continue
        for name, pattern in FORMS:
            if pattern.search(text):
                return name
    return None


# Article context: which sentences can be claims at all.
METHODS_SECTION_RE = re.compile(
    r"objectives?|aims?(?: and objectives)?|purpose|design(?:, setting,? and participants)?|setting|"
    r"participants|patients|interventions?|exposures?|methods?|materials and methods|"
    r"main outcomes? and measures?|outcomes?|measurements|trial registration|funding"
)


def is_methods_section(section: str | None) -> bool:
    """Abstract sections that describe what was done, not what was found."""
    return section is not None and METHODS_SECTION_RE.fullmatch(section) is not None


# Structured-abstract headings. Each starts a sentence and is not part of the sentence it opens.
HEADING_RE = re.compile(
    r"(?:^|(?<=\n)|(?<=[.!?)\]\"\u201d]\s))(?P<heading>(?:background|introduction|context|importance|"
    r"objectives?|aims?(?: and objectives)?|purpose|design(?:, setting,? and participants)?|setting|"
    r"participants|patients|interventions?|exposures?|methods?(?: and results)?|materials and methods|"
    r"main outcomes? and measures?|outcomes?|measurements|results?|findings|conclusions?(?: and relevance)?|"
    r"interpretation|discussion|limitations|significance|trial registration|funding|key points|"
    r"question|meaning)\s*:)\s*",
    re.IGNORECASE,
)


COMPARISON_RE = re.compile(
    r"\b(?:vs\.?|versus|compared|than|superior|inferior|both|either|head-to-head)\b", re.I
)


def is_about_ketamine(article: Article, treatment: Treatment = KETAMINE) -> bool:
    """An article is about ketamine (or the treatment followed) when its title names it, or its
    paragraphs keep coming back to it more than to any other treatment. Elsewhere only sentences
    that name it are candidates. (Counting paragraphs, not mentions: a round-up that says
    "esketamine (Spravato), a ketamine derivative" once is still a round-up.)"""
    if treatment.mentioned_in(article.title):
        return True
    paragraphs = article.body.split("\n\n")
    ketamine = sum(1 for p in paragraphs if treatment.mentioned_in(p))
    others = sum(1 for p in paragraphs if OTHER_TREATMENT_RE.search(p))
    return ketamine >= 3 or (ketamine >= 2 and ketamine > others)


def refers_to_ketamine(text: str) -> bool:
    """In an article about ketamine: refers back to it, compares with it, or names no other
    treatment (an abstract's "Response rates were 64% vs 28%")."""
    return (
        ANAPHOR_RE.search(text) is not None
        or OTHER_TREATMENT_RE.search(text) is None
        or COMPARISON_RE.search(text) is not None
    )


def is_candidate(text: str, focused: bool, named: bool | None = None) -> bool:
    """Whether a sentence goes to the claim models: it names ketamine (`named`, when the caller
    has already found the mentions), or it stands in an article about ketamine (`focused`) and
    refers back to it."""
    if named is None:
        named = mentions_ketamine(text)
    return named or (focused and refers_to_ketamine(text))
