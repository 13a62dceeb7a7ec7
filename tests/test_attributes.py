from __future__ import annotations

import pytest

from monitor.language.attributes import (
    amounts,
    describe,
    durations_days,
    evidence_tier,
    hedged,
    percentages,
    sample_size,
    study_type,
)
from monitor.records import Money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The drug may reduce suicidal thoughts.", True),
        ("These preliminary data suggest a benefit.", True),
        ("Ketamine could become cheaper as generics spread.", True),
        ("Ketamine appears to act within hours.", True),
        ("Patients were more likely to respond to ketamine.", False),
        ("Ketamine reduced suicidal thoughts within 24 hours.", False),
    ],
)
def test_hedging(text: str, expected: bool) -> None:
    assert hedged(text) is expected


@pytest.mark.parametrize(
    ("sentence", "context", "expected"),
    [
        ("In this randomised, double-blind trial ketamine beat placebo.", "", "RCT"),
        ("A meta-analysis of 12 trials found benefit.", "", "meta-analysis"),
        ("Remission was 31%.", "A retrospective cohort of clinic patients", "observational"),
        ("We describe a case series of bladder damage.", "", "case report"),
        ("In this open-label study, 32 adults continued oral ketamine.", "", "open-label"),
        ("Arketamine reversed social avoidance in mice.", "", "animal"),
        ("The ICER was £45,000 per QALY.", "", "modelling"),
        ("In a survey of 812 psychiatrists, cost was the main barrier.", "", "survey"),
        ("Ketamine lifted her mood.", "", None),
    ],
)
def test_study_type(sentence: str, context: str, expected: str | None) -> None:
    assert study_type(sentence, context) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Response was higher (n = 24).", 24),
        ("Among 290 veterans treated with esketamine", 290),
        ("Records of 1,200 patients were reviewed.", 1200),
        ("In 2019 patients began to ask for it.", None),
        ("Ketamine works.", None),
    ],
)
def test_sample_size(text: str, expected: int | None) -> None:
    assert sample_size(text) == expected


def test_numbers_are_normalised() -> None:
    assert durations_days("Relief lasted two weeks; 3-7 days for some; within 24 h; 6 months later") == (
        14.0,
        7.0,
        1.0,
        182.64,
    )
    assert amounts("$500 per infusion, £163 per device, €1.2 million, A$600 and 4,000 dollars") == (
        Money(500.0, "USD"),
        Money(163.0, "GBP"),
        Money(1_200_000.0, "EUR"),
        Money(600.0, "AUD"),
        Money(4000.0, "USD"),
    )
    assert percentages("Response was 64% vs 28 percent (and 5.5 per cent)") == (64.0, 28.0, 5.5)


def test_describe_uses_the_article_when_the_sentence_is_silent() -> None:
    attributes = describe(
        "Remission was twice as common with the drug.",
        context="Ketamine for veterans: a randomised trial in 156 veterans",
        form="IV ketamine",
    )
    assert (attributes.study_type, attributes.sample_size, attributes.form) == ("RCT", 156, "IV ketamine")


@pytest.mark.parametrize(
    ("feed", "link", "doi", "source", "tier"),
    [
        (
            "http://connect.medrxiv.org/medrxiv_xml.php?subject=x",
            "https://www.medrxiv.org/c/1",
            None,
            "",
            "preprint",
        ),
        (
            "https://pubmed.ncbi.nlm.nih.gov/rss/search/x",
            "https://pubmed.ncbi.nlm.nih.gov/1/",
            None,
            "",
            "peer-reviewed",
        ),
        ("https://www.fda.gov/rss.xml", "https://www.fda.gov/news-events/x", None, "", "regulator"),
        (
            "https://www.prnewswire.com/rss/health.rss",
            "https://www.prnewswire.com/news/x",
            None,
            "",
            "press release",
        ),
        ("https://news.google.com/rss/search?q=k", "https://www.theguardian.com/x", None, "", "news"),
        ("https://example.org/feed", "https://example.org/x", "10.1001/jama.2024.1", "", "peer-reviewed"),
    ],
)
def test_evidence_tier(feed: str, link: str, doi: str | None, source: str, tier: str) -> None:
    assert evidence_tier(feed, link, doi, source) == tier


def test_vocabularies_agree() -> None:
    """The names the CLI offers as filters are the names the rules produce."""
    from monitor.language.attributes import STUDY_TYPES
    from monitor.language.lexicon import FORMS
    from monitor.records import FORM_NAMES, STUDY_TYPE_NAMES

    assert {name for name, _ in STUDY_TYPES} == set(STUDY_TYPE_NAMES)
    assert tuple(name for name, _ in FORMS) == FORM_NAMES
