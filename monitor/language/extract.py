"""Find the sentences of an article that talk about ketamine, with spaCy.

The default pipeline is ``spacy.blank("en")`` plus the sentencizer and two components of ours, so
nothing has to be downloaded. A trained pipeline (``en_core_web_sm`` ...) can be
configured instead; our components are added to it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Token

from monitor.errors import ConfigError
from monitor.language.features import mask
from monitor.language.lexicon import HEADING_RE, KETAMINE, Treatment, is_about_ketamine, is_candidate
from monitor.records import Article, Sentence, SentenceContext

# Abbreviations after which a full stop does not end a sentence in scientific and
# news text. Compared lower-case, with their trailing full stop.
NON_TERMINAL_ABBREVIATIONS = frozenset(
    [
        "al.",
        "fig.",
        "figs.",
        "vs.",
        "v.",
        "e.g.",
        "i.e.",
        "i.v.",
        "i.m.",
        "i.n.",
        "p.o.",
        "s.c.",
        "approx.",
        "ca.",
        "cf.",
        "dr.",
        "drs.",
        "prof.",
        "mr.",
        "mrs.",
        "ms.",
        "no.",
        "nos.",
        "ref.",
        "refs.",
        "vol.",
        "pp.",
        "st.",
        "inc.",
        "ltd.",
        "co.",
        "corp.",
        "jan.",
        "feb.",
        "mar.",
        "apr.",
        "jun.",
        "jul.",
        "aug.",
        "sep.",
        "sept.",
        "oct.",
        "nov.",
        "dec.",
        "mg.",
        "min.",
        "resp.",
        "est.",
        "incl.",
        "eq.",
        "tab.",
        "suppl.",
        "ed.",
        "eds.",
    ]
)


OPENING_QUOTES = frozenset({'"', "\u201c", "\u2018", "'"})
OPENING_BRACKETS = frozenset({"(", "["})
# Initials and dotted abbreviations: "J.", "U.S.", "M.D.", "T.H.".
_DOTTED = re.compile(r"^(?:[A-Z]\.)+$")
# Words that open sentences far more often than they continue a name after "U.S." or "H.".
SENTENCE_OPENERS = frozenset(
    """the a an it its this that these those he she they we i you in on at by but and or so if
    when while after before since as for still yet however earlier later now then there here some
    many most other others such also more less one two three four five six seven eight nine ten
    no not our their his her my what why how who where each both all only even although though
    because until unless instead meanwhile overall""".split()
)
_BULLET = re.compile(r"^[\u2022\u2023\u25aa\u25cf\u2013\u2014*\-]\s+")


@Language.component("monitor_sentence_rules")
def sentence_rules(doc: Doc) -> Doc:
    """Corrections to the sentencizer for scientific and news text:
    blank lines and abstract headings start sentences; abbreviations and a lower-case
    continuation do not."""
    for i, token in enumerate(doc):
        if i == 0:
            continue
        previous = doc[i - 1]
        if "\n" in previous.text or "\n" in previous.whitespace_:
            # A paragraph break always ends a sentence; a single line break only where the line
            # could end one: plain-text registrations and abstracts are hard-wrapped mid-sentence.
            token.is_sent_start = not _hard_wrapped(doc, i)
        elif (
            token.is_sent_start
            and not token.is_space
            and (
                (_is_abbreviation(doc, i - 1) and not _unit_ends_sentence(doc, i))
                or (token.text[:1].islower() and _after_stop(doc, i))
            )
        ):
            # "et al. found", "Fig. 2", "i.v. ketamine", "(i.v.) ketamine", "approx. sixty" go on.
            token.is_sent_start = False
        elif _unit_ends_sentence(doc, i):
            token.is_sent_start = True
        elif token.is_title and _continues_a_name(doc, i):
            # "the U.S. Food and Drug Administration", "M.D. Anderson", "Dr. J. Leonard Smith".
            token.is_sent_start = False
        elif _ends_with_stop(previous) and token.is_title and not token.is_upper:
            # The tokenizer keeps "h." and "U.S." whole, so the sentencizer never sees their
            # full stop: "within 2 h. The effect ..." ends a sentence, "U.S. FDA" does not.
            token.is_sent_start = True
    for i in range(2, len(doc)):
        quote = doc[i - 1]
        if (
            doc[i].is_sent_start
            and (quote.text in OPENING_QUOTES or quote.text in OPENING_BRACKETS)
            and doc[i - 2].whitespace_
            and not quote.whitespace_
        ):
            # An opening quote or bracket belongs to the sentence it opens, not the one before it.
            quote.is_sent_start = True
            doc[i].is_sent_start = False
    headings = []
    for match in HEADING_RE.finditer(doc.text):
        span = doc.char_span(match.start("heading"), match.end("heading"), alignment_mode="expand")
        if span is None:
            continue
        headings.append(span)
        if span.start > 0:
            doc[span.start].is_sent_start = True
        for token in doc[span.start + 1 : min(span.end + 1, len(doc))]:
            token.is_sent_start = False
    doc.spans["headings"] = headings
    return doc


CLOSING_MARKS = frozenset({")", "]", '"', "\u201d", "'", "\u2019"})


def _after_stop(doc: Doc, index: int) -> bool:
    """The token before `index` ends a sentence by its mark (a full stop, question or exclamation
    mark), or closes a bracket or quote that does: a lower-case word after it goes on with the
    sentence ("poof! -- the pain is gone", "fewer sugary drinks? less junk food?")."""
    previous = doc[index - 1]
    if previous.text in CLOSING_MARKS and index >= 2:
        previous = doc[index - 2]
    return previous.text.endswith((".", "?", "!"))


# Abbreviations that often end a sentence too: units and company suffixes ("for 20 min. After
# that ...", "Biogen Idec. Inc. More information ...").
ENDING_ABBREVIATIONS = frozenset({"min.", "mg.", "inc.", "ltd.", "corp.", "co."})
# Company and name suffixes that follow a full stop without starting a sentence.
NAME_SUFFIXES = frozenset({"inc.", "ltd.", "co.", "corp.", "llc", "jr.", "sr.", "plc", "gmbh", "ag"})


def _unit_ends_sentence(doc: Doc, index: int) -> bool:
    """A unit's or a company suffix's full stop before a word that opens sentences is also the
    sentence's end."""
    previous = doc[index - 1]
    text = previous.text.lower()
    if text == "." and index >= 2:
        text = doc[index - 2].text.lower() + "."
    return (
        text in ENDING_ABBREVIATIONS and doc[index].is_title and doc[index].text.lower() in SENTENCE_OPENERS
    )


def _continues_a_name(doc: Doc, index: int) -> bool:
    """A capitalised word after an initial or a dotted abbreviation goes on with the same name
    ("U.S. Food and Drug Administration", "Harvard T.H. Chan School", "Derek H. Smith") unless it
    is a word that usually opens a sentence ("in the U.S. Earlier reports ..."). A lone initial
    continues only after a capitalised word or a title ("Dr. J. Leonard", not "caused B. It")."""
    previous = doc[index - 1]
    if doc[index].text.lower() in NAME_SUFFIXES and previous.text == ".":
        return True  # "Biogen Idec. Inc."
    if not _DOTTED.match(previous.text) or not previous.whitespace_ or "\n" in previous.whitespace_:
        return False
    if doc[index].text.lower() in SENTENCE_OPENERS or index < 2:
        return False
    before = doc[index - 2]
    if before.text == ",":
        return False  # a place at the end of a sentence: "... in Durham, N.C. Atrial fibrillation ..."
    if len(previous.text) > 2:
        return True
    # A lone initial: after a capitalised word or a title ("Dr. J. Leonard"), or before a
    # name of two capitalised words ("funded by F. Hoffmann-La Roche", "the C. Vincent Prothro").
    after = doc[index + 1] if index + 1 < len(doc) else None
    return (
        before.is_title
        or _DOTTED.match(before.text) is not None
        or _is_abbreviation(doc, index - 2)
        or (after is not None and (after.is_title or after.text == "-"))
    )


def _hard_wrapped(doc: Doc, index: int) -> bool:
    """Token `index` continues the line before it: one line break between them, the line does
    not end in punctuation that closes a sentence or opens a list, and the word is lower case."""
    token, previous = doc[index], doc[index - 1]
    if previous.text == "\n" and index >= 2:
        previous = doc[index - 2]
    elif previous.is_space or previous.whitespace_.count("\n") > 1:
        return False
    return token.text[:1].islower() and not previous.is_space and previous.text[-1:] not in ".!?:;\u2022"


def _ends_with_stop(token: Token) -> bool:
    return (
        len(token.text) > 1
        and token.text.endswith(".")
        and token.text.lower() not in NON_TERMINAL_ABBREVIATIONS
        and token.whitespace_ != ""
    )


def _is_abbreviation(doc: Doc, index: int) -> bool:
    token = doc[index]
    text = token.text.lower()
    if text == "." and index > 0 and not doc[index - 1].whitespace_:
        text = doc[index - 1].text.lower() + "."
    return text in NON_TERMINAL_ABBREVIATIONS


def build_nlp(model: str | None = None) -> Language:
    """The extraction pipeline: blank English by default, or a trained one when configured."""
    if model:
        try:
            nlp = spacy.load(model, exclude=["ner", "lemmatizer", "textcat"])
        except OSError as exc:
            raise ConfigError(
                f"spaCy pipeline {model!r} is not installed; remove spacy_model from the "
                "config to use the built-in one"
            ) from exc
    else:
        nlp = spacy.blank("en")
    if not nlp.has_pipe("parser") and not nlp.has_pipe("senter"):
        nlp.add_pipe("sentencizer")
    nlp.add_pipe("monitor_sentence_rules", after="sentencizer" if nlp.has_pipe("sentencizer") else None)
    return nlp


def _always_ketamine(article: Article) -> Treatment:
    return KETAMINE


class SentenceExtractor:
    """Splits articles into sentences and keeps the candidates for claims about ketamine (or the
    treatment followed): sentences that name it, and, in articles about it, sentences that refer
    back to it ("the drug", "infusions", "it") or report a result without naming any other
    treatment. Each candidate carries its context: its neighbours, its place, quotation."""

    def __init__(
        self,
        nlp: Language,
        batch_size: int = 32,
        treatment_of: Callable[[Article], Treatment] = _always_ketamine,
    ) -> None:
        self.nlp = nlp
        self.batch_size = batch_size
        self.treatment_of = treatment_of

    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]:
        """Yield each article with its candidate sentences, title first. Articles that never
        mention the treatment skip spaCy entirely: most of a feed is about something else."""
        articles = list(articles)
        treatments = [self.treatment_of(article) for article in articles]
        units = []
        for index, (article, treatment) in enumerate(zip(articles, treatments, strict=True)):
            body = article.body  # the page's main text when it was read, else the feed's text
            if not (treatment.mentioned_in(article.title) or treatment.mentioned_in(body)):
                continue
            focused = is_about_ketamine(article, treatment)
            if body and (focused or treatment.mentioned_in(body)):
                units.append((index, body, focused))
        found: dict[int, list[Sentence]] = {i: [] for i in range(len(articles))}
        for index, article in enumerate(articles):
            title = title_sentence(article, treatments[index])
            if title is not None:
                found[index].append(title)
        docs = self.nlp.pipe((text for _, text, _ in units), batch_size=self.batch_size)
        for (index, _, focused), doc in zip(units, docs, strict=True):
            article = articles[index]
            found[index].extend(candidates(doc, article.id, focused, treatments[index], article.body_unit))
        for index, article in enumerate(articles):
            yield article, found[index]


def title_sentence(article: Article, treatment: Treatment = KETAMINE) -> Sentence | None:
    """A headline is one unit, never split ("Ketamine Worked. Her Insurer Wouldn't Pay."),
    and a candidate whenever it names the treatment."""
    title = article.title
    start, end = _strip_span(title, 0, len(title))
    spans = [(a, b) for a, b in treatment.spans(title) if start <= a and b <= end]
    if not spans or end <= start:
        return None
    lead = article.body.split("\n\n", 1)[0][:400]
    context = SentenceContext(
        next=mask(lead, treatment.spans(lead)),
        quote=_quote_state(title[start:end], False),
        spans=tuple((a - start, b - start) for a, b in spans),
    )
    mentions = tuple(title[a:b] for a, b in spans)
    return Sentence(article.id, title[start:end], "title", start, end, mentions, context=context)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    section: str | None
    paragraph: int


def sentence_spans(doc: Doc) -> list[_Span]:
    """Every sentence of the doc: offsets without its abstract heading, bullet or surrounding
    space; the heading it falls under; its paragraph."""
    headings = {span.start: span for span in doc.spans.get("headings", [])}
    breaks = [m.end() for m in _PARAGRAPH_BREAK.finditer(doc.text)]
    section = None
    spans = []
    for sent in doc.sents:
        heading = headings.get(sent.start)
        if heading is not None:
            section = " ".join(heading.text.rstrip(": ").lower().split())
        begin = heading.end_char if heading is not None else sent.start_char
        start, end = _strip_span(doc.text, begin, sent.end_char)
        bullet = _BULLET.match(doc.text[start:end])
        if bullet:
            start += bullet.end()
        if end - start < 3:
            continue
        spans.append(_Span(start, end, section, bisect.bisect_right(breaks, start)))
    return spans


def candidates(
    doc: Doc, article_id: str, focused: bool, treatment: Treatment = KETAMINE, unit: str = "text"
) -> Iterator[Sentence]:
    text = doc.text
    mentions = treatment.spans(text)
    spans = sentence_spans(doc)
    paragraphs = (spans[-1].paragraph + 1) if spans else 1
    in_quote = False
    for i, span in enumerate(spans):
        if i and spans[i - 1].paragraph != span.paragraph:
            in_quote = False  # a quotation never runs on past its paragraph here
            first_in_paragraph = i
        elif i == 0:
            first_in_paragraph = 0
        sentence_text = text[span.start : span.end]
        inside = [(a, b) for a, b in mentions if a >= span.start and b <= span.end]
        quote = _quote_state(sentence_text, in_quote)
        in_quote = _still_open(sentence_text, in_quote)
        if not is_candidate(sentence_text, focused, named=bool(inside)):
            continue
        context = SentenceContext(
            previous=_masked(text, spans[i - 1], mentions) if i else "",
            next=_masked(text, spans[i + 1], mentions) if i + 1 < len(spans) else "",
            paragraph=span.paragraph,
            paragraphs=paragraphs,
            in_paragraph=i - first_in_paragraph,
            index=i,
            sentences=len(spans),
            quote=quote,
            spans=tuple((a - span.start, b - span.start) for a, b in inside),
        )
        yield Sentence(
            article_id=article_id,
            text=sentence_text,
            unit=unit,
            start=span.start,
            end=span.end,
            mentions=tuple(text[a:b] for a, b in inside),
            explicit=bool(inside),
            section=span.section,
            context=context,
        )


def _masked(text: str, span: _Span, mentions: list[tuple[int, int]]) -> str:
    """A neighbouring sentence, with the treatment's mentions masked as the models see them."""
    inside = [(a - span.start, b - span.start) for a, b in mentions if a >= span.start and b <= span.end]
    return mask(text[span.start : span.end], inside)


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_OPEN_QUOTES = "\u201c"
_CLOSE_QUOTES = "\u201d"


def _quote_state(sentence: str, in_quote: bool) -> str:
    """ "inside" when the sentence continues a quotation opened before it or opens with a quote
    mark; "contains" when it quotes words; "none" otherwise."""
    stripped = sentence.lstrip("([ ")
    if in_quote or stripped[:1] in OPENING_QUOTES:
        return "inside"
    if any(mark in sentence for mark in ('"', _OPEN_QUOTES, _CLOSE_QUOTES)):
        return "contains"
    return "none"


def _still_open(sentence: str, in_quote: bool) -> bool:
    """Whether a quotation is still open after this sentence (news copy opens a quote in one
    sentence and closes it two sentences later)."""
    curly_open, curly_close = sentence.count(_OPEN_QUOTES), sentence.count(_CLOSE_QUOTES)
    if curly_open or curly_close:
        return curly_open > curly_close or (in_quote and curly_open == curly_close == 0)
    straight = sentence.count('"')
    return in_quote != (straight % 2 == 1)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
