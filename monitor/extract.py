"""Find the sentences of an article that talk about ketamine, with spaCy.

The default pipeline is ``spacy.blank("en")`` plus three components of ours, so
nothing has to be downloaded. A trained pipeline (``en_core_web_sm`` ...) can be
configured instead; our components are added to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from monitor.errors import ConfigError
from monitor.lexicon import KETAMINE_RE, mentions_ketamine
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


@Language.component("monitor_paragraph_breaks")
def paragraph_breaks(doc: Doc) -> Doc:
    """Blank lines are hard sentence boundaries; abbreviations are not boundaries."""
    for i, token in enumerate(doc):
        if i == 0:
            continue
        previous = doc[i - 1]
        if "\n" in previous.text or "\n" in previous.whitespace_:
            token.is_sent_start = True
        elif token.is_sent_start and _is_abbreviation(doc, i - 1) and not token.is_space:
            # "et al. found", "Fig. 2", "i.v. ketamine" go on.
            token.is_sent_start = False
        elif _ends_with_stop(previous) and token.is_title and not token.is_upper:
            # The tokenizer keeps "h." and "U.S." whole, so the sentencizer never sees their
            # full stop: "within 2 h. The effect ..." ends a sentence, "U.S. FDA" does not.
            token.is_sent_start = True
    return doc


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
    """Mark every ketamine term in doc.spans["ketamine"]."""
    spans = []
    for match in KETAMINE_RE.finditer(doc.text):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
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
    nlp.add_pipe("monitor_paragraph_breaks", after="sentencizer" if nlp.has_pipe("sentencizer") else None)
    nlp.add_pipe("monitor_ketamine_mentions", last=True)
    return nlp


class SentenceExtractor:
    """Splits articles into sentences and keeps those that mention ketamine."""

    def __init__(self, nlp: Language, batch_size: int = 32) -> None:
        self.nlp = nlp
        self.batch_size = batch_size

    def extract(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Sentence]]]:
        """Yield each article with its ketamine sentences, title first. Articles that never
        mention ketamine skip spaCy entirely: most of a feed is about something else."""
        articles = list(articles)
        units = [
            (index, unit, text)
            for index, article in enumerate(articles)
            if mentions_ketamine(article.title) or mentions_ketamine(article.text)
            for unit, text in (("title", article.title), ("text", article.text))
            if text and mentions_ketamine(text)
        ]
        found: dict[int, list[Sentence]] = {i: [] for i in range(len(articles))}
        docs = self.nlp.pipe((text for _, _, text in units), batch_size=self.batch_size)
        for (index, unit, _), doc in zip(units, docs, strict=True):
            found[index].extend(_ketamine_sentences(doc, articles[index].id, unit))
        for index, article in enumerate(articles):
            yield article, found[index]


def _ketamine_sentences(doc: Doc, article_id: str, unit: str) -> Iterator[Sentence]:
    mentions: list[Span] = list(doc.spans.get("ketamine", []))
    if not mentions:
        return
    for sent in doc.sents:
        inside = [m.text for m in mentions if m.start >= sent.start and m.end <= sent.end]
        if not inside:
            continue
        start, end = _strip_span(doc.text, sent.start_char, sent.end_char)
        if end > start:
            yield Sentence(
                article_id=article_id,
                text=doc.text[start:end],
                unit=unit,
                start=start,
                end=end,
                mentions=tuple(inside),
            )


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
