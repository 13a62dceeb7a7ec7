from __future__ import annotations

import pytest

from monitor.extract import SentenceExtractor, build_nlp
from monitor.lexicon import KETAMINE_RE
from monitor.records import Article


def article(title: str, text: str, id: str = "url:https://x/a") -> Article:
    return Article(id=id, url="https://x/a", title=title, text=text, source="S", feed_url="https://x/f")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Ketamine and KETAMINE and ketamines", ["Ketamine", "KETAMINE", "ketamines"]),
        ("esketamine, Esketamine's, arketamine", ["esketamine", "Esketamine", "arketamine"]),
        (
            "(S)-ketamine, (R)-ketamine, S-ketamine, R-ketamine",
            ["(S)-ketamine", "(R)-ketamine", "S-ketamine", "R-ketamine"],
        ),
        ("Spravato nasal spray, Ketalar, Ketanest S", ["Spravato", "Ketalar", "Ketanest"]),
        ("ketamine-assisted psychotherapy", ["ketamine"]),
        ("norketamine levels and ketaminergic", []),
    ],
)
def test_lexicon(text: str, found: list[str]) -> None:
    assert [m.group() for m in KETAMINE_RE.finditer(text)] == found


def sentences(nlp_text: str) -> list[str]:
    nlp = build_nlp()
    return [s.text.strip() for s in nlp(nlp_text).sents if s.text.strip()]


def test_sentences_survive_scientific_abbreviations() -> None:
    text = (
        "Zarate et al. gave i.v. ketamine vs. placebo (p < .05; 95% CI 1.2-3.4). "
        "Response came within 2 h. The effect, shown in Fig. 2, faded by day 7. "
        "Dr. Ruiz said approx. 60% responded, e.g. in the U.S. FDA-approved clinics."
    )
    assert sentences(text) == [
        "Zarate et al. gave i.v. ketamine vs. placebo (p < .05; 95% CI 1.2-3.4).",
        "Response came within 2 h.",
        "The effect, shown in Fig. 2, faded by day 7.",
        "Dr. Ruiz said approx. 60% responded, e.g. in the U.S. FDA-approved clinics.",
    ]


def test_a_sentence_never_spans_two_paragraphs() -> None:
    assert sentences("Ketamine worked in most patients\n\nCosts were high") == [
        "Ketamine worked in most patients",
        "Costs were high",
    ]


def test_extractor_keeps_ketamine_sentences_with_exact_offsets(extractor: SentenceExtractor) -> None:
    art = article(
        "Esketamine Cut Relapse By Half",
        "Depression is common. Ketamine lifted mood within hours (n = 24).\n\n"
        "Infusions cost $500. Spravato is given under supervision.",
    )
    ((_, found),) = list(extractor.extract([art]))
    assert [(s.unit, s.text) for s in found] == [
        ("title", "Esketamine Cut Relapse By Half"),
        ("text", "Ketamine lifted mood within hours (n = 24)."),
        ("text", "Spravato is given under supervision."),
    ]
    for s in found:
        field = art.title if s.unit == "title" else art.text
        assert field[s.start : s.end] == s.text
    assert found[2].mentions == ("Spravato",)


def test_articles_without_ketamine_yield_nothing(extractor: SentenceExtractor) -> None:
    arts = [article("Sertraline study", "SSRIs help many.", id="a"), article("", "", id="b")]
    assert [(a.id, s) for a, s in extractor.extract(arts)] == [("a", []), ("b", [])]


def test_a_missing_trained_pipeline_is_a_config_error() -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="not installed"):
        build_nlp("en_core_web_nonexistent")
