"""Find the sentences of an article that talk about ketamine, with spaCy.

The default pipeline is ``spacy.blank("en")`` plus the sentencizer and two components of ours, so
nothing has to be downloaded. A trained pipeline (``en_core_web_sm`` ...) can be
configured instead; our components are added to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from monitor.errors import ConfigError
from monitor.lexicon import (
    HEADING_RE,
    is_about_ketamine,
    is_candidate,
    ketamine_spans,
    mentions_ketamine,
)
from monitor.records import Article, Sentence

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
            and (_is_abbreviation(doc, i - 1) or (token.text[:1].islower() and _after_stop(doc, i)))
        ):
            # "et al. found", "Fig. 2", "i.v. ketamine", "(i.v.) ketamine", "approx. sixty" go on.
            token.is_sent_start = False
        elif _ends_with_stop(previous) and token.is_title and not token.is_upper:
            # The tokenizer keeps "h." and "U.S." whole, so the sentencizer never sees their
            # full stop: "within 2 h. The effect ..." ends a sentence, "U.S. FDA" does not.
            token.is_sent_start = True
    for i in range(2, len(doc)):
        quote = doc[i - 1]
        if (
            doc[i].is_sent_start
            and quote.text in OPENING_QUOTES
            and doc[i - 2].whitespace_
            and not quote.whitespace_
        ):
            # An opening quote belongs to the sentence it opens, not the one before it.
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
    """The token before `index` ends in a full stop, or closes a bracket or quote that does."""
    previous = doc[index - 1]
    if previous.text in CLOSING_MARKS and index >= 2:
        previous = doc[index - 2]
    return previous.text.endswith(".")


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


@Language.component("monitor_ketamine_mentions")
def ketamine_mentions(doc: Doc) -> Doc:
    """Mark every ketamine term (with KAP, and Special K where drugs are the subject)."""
    spans = []
    for start, end in ketamine_spans(doc.text):
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans["ketamine"] = spans
    return doc


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
    nlp.add_pipe("monitor_ketamine_mentions", last=True)
    return nlp


class SentenceExtractor:
    """Splits articles into sentences and keeps the candidates for claims about ketamine:
    sentences that name it, and, in articles about ketamine, sentences that refer back to it
    ("the drug", "infusions", "it") or report a result without naming any other treatment."""

    def __init__(self, nlp: Language, batch_size: int = 32) -> None:
        self.nlp = nlp
        self.batch_size = batch_size

    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]:
        """Yield each article with its candidate sentences, title first. Articles that never
        mention ketamine skip spaCy entirely: most of a feed is about something else."""
        articles = list(articles)
        units = []
        for index, article in enumerate(articles):
            if not (mentions_ketamine(article.title) or mentions_ketamine(article.text)):
                continue
            focused = is_about_ketamine(article)
            if article.text and (focused or mentions_ketamine(article.text)):
                units.append((index, "text", article.text, focused))
        found: dict[int, list[Sentence]] = {i: [] for i in range(len(articles))}
        for index, article in enumerate(articles):
            title = title_sentence(article)
            if title is not None:
                found[index].append(title)
        docs = self.nlp.pipe((text for _, _, text, _ in units), batch_size=self.batch_size)
        for (index, unit, _, focused), doc in zip(units, docs, strict=True):
            found[index].extend(_candidates(doc, articles[index].id, unit, focused))
        for index, article in enumerate(articles):
            yield article, found[index]


def title_sentence(article: Article) -> Sentence | None:
    """A headline is one unit, never split ("Ketamine Worked. Her Insurer Wouldn't Pay."),
    and a candidate whenever it names ketamine."""
    title = article.title
    start, end = _strip_span(title, 0, len(title))
    mentions = tuple(title[a:b] for a, b in ketamine_spans(title))
    if not mentions or end <= start:
        return None
    return Sentence(article.id, title[start:end], "title", start, end, mentions)


def _candidates(doc: Doc, article_id: str, unit: str, focused: bool) -> Iterator[Sentence]:
    mentions: list[Span] = list(doc.spans.get("ketamine", []))
    headings = {span.start: span for span in doc.spans.get("headings", [])}
    section = None
    for sent in doc.sents:
        heading = headings.get(sent.start)
        if heading is not None:
            section = " ".join(heading.text.rstrip(": ").lower().split())
        inside = tuple(m.text for m in mentions if m.start >= sent.start and m.end <= sent.end)
        begin = heading.end_char if heading is not None else sent.start_char
        start, end = _strip_span(doc.text, begin, sent.end_char)
        text = doc.text[start:end]
        bullet = _BULLET.match(text)
        if bullet:
            start += bullet.end()
            text = doc.text[start:end]
        if len(text) < 3:
            continue
        if not is_candidate(text, focused, named=bool(inside)):
            continue
        yield Sentence(
            article_id=article_id,
            text=text,
            unit=unit,
            start=start,
            end=end,
            mentions=inside,
            explicit=bool(inside),
            section=section,
        )


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
