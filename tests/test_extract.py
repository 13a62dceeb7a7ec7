from __future__ import annotations

import pytest

from monitor.language.extract import SentenceExtractor, build_nlp
from monitor.language.lexicon import ketamine_form, ketamine_spans
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
        ("KAP sessions and kap", ["KAP"]),
        ("He was sold Special K at a festival", ["Special K"]),
        ("Special K cereal for breakfast", []),
    ],
)
def test_lexicon(text: str, found: list[str]) -> None:
    assert [text[a:b] for a, b in ketamine_spans(text)] == found


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


def test_an_abbreviation_in_brackets_does_not_end_a_sentence() -> None:
    assert sentences(
        "Most patients given intravenous (i.v.) ketamine relapse within weeks. "
        'Her doctor called it "remarkable." The next week it faded.'
    ) == [
        "Most patients given intravenous (i.v.) ketamine relapse within weeks.",
        'Her doctor called it "remarkable."',
        "The next week it faded.",
    ]


def test_a_hard_wrapped_line_continues_its_sentence() -> None:
    assert sentences(
        "Ketamine was given to adults with depression and patient\nreported outcomes were collected.\n"
        "Inclusion criteria:\nadults aged 18 to 65\nResponse was rapid.\nmost kept it"
    ) == [
        "Ketamine was given to adults with depression and patient\nreported outcomes were collected.",
        "Inclusion criteria:",
        "adults aged 18 to 65",
        "Response was rapid.",
        "most kept it",
    ]


def test_a_sentence_never_spans_two_paragraphs() -> None:
    assert sentences("Ketamine worked in most patients\n\nCosts were high") == [
        "Ketamine worked in most patients",
        "Costs were high",
    ]


def test_extractor_keeps_candidates_with_exact_offsets(extractor: SentenceExtractor) -> None:
    art = article(
        "Esketamine Cut Relapse By Half",
        "Sertraline is the most prescribed SSRI. Ketamine lifted mood within hours (n = 24).\n\n"
        "Infusions cost $500. Spravato is given under supervision.",
    )
    ((_, found),) = list(extractor.extract([art]))
    assert [(s.unit, s.explicit, s.text) for s in found] == [
        ("title", True, "Esketamine Cut Relapse By Half"),
        ("text", True, "Ketamine lifted mood within hours (n = 24)."),
        ("text", False, "Infusions cost $500."),
        ("text", True, "Spravato is given under supervision."),
    ]
    for s in found:
        field = art.title if s.unit == "title" else art.text
        assert field[s.start : s.end] == s.text
    assert found[3].mentions == ("Spravato",)


def test_implicit_references_count_only_in_articles_about_ketamine(extractor: SentenceExtractor) -> None:
    about = article(
        "Ketamine clinics multiply",
        "The drug lifted her mood within a day. It wore off after two weeks. "
        "Infusions are not covered by insurers. Lithium remains the standard for bipolar disorder.",
        id="about",
    )
    passing = article(
        "New options for hard-to-treat depression",
        "Psilocybin helped half the group. Ketamine is another option some clinics offer. "
        "The drug was well tolerated. Infusions of it are expensive.",
        id="passing",
    )
    found = {a.id: [s.text for s in sentences] for a, sentences in extractor.extract([about, passing])}
    assert found["about"] == [
        "Ketamine clinics multiply",
        "The drug lifted her mood within a day.",
        "It wore off after two weeks.",
        "Infusions are not covered by insurers.",
    ]
    assert found["passing"] == ["Ketamine is another option some clinics offer."]


def test_abstract_headings_start_sentences_and_are_left_out(extractor: SentenceExtractor) -> None:
    art = article(
        "Ketamine vs midazolam",
        "BACKGROUND: Ketamine acts fast. METHODS: We randomised 40 adults (n = 40) to ketamine. "
        "Results: Response was 64% vs. 28% at 24 h (p < .05). CONCLUSIONS AND RELEVANCE: It works.",
    )
    ((_, found),) = list(extractor.extract([art]))
    assert [(s.section, s.text) for s in found[1:]] == [
        ("background", "Ketamine acts fast."),
        ("methods", "We randomised 40 adults (n = 40) to ketamine."),
        ("results", "Response was 64% vs. 28% at 24 h (p < .05)."),
        ("conclusions and relevance", "It works."),
    ]


def test_quotes_spanning_sentences_and_lower_case_continuations() -> None:
    assert sentences(
        '"It worked. I felt better," she said. "Then it faded." The clinic charges approx. sixty'
    ) == [
        '"It worked.',
        'I felt better," she said.',
        '"Then it faded."',
        "The clinic charges approx. sixty",
    ]
    assert sentences("Remission was 31.5% (95% CI 24.1-38.9). The effect faded.") == [
        "Remission was 31.5% (95% CI 24.1-38.9).",
        "The effect faded.",
    ]


def test_articles_without_ketamine_yield_nothing(extractor: SentenceExtractor) -> None:
    arts = [article("Sertraline study", "SSRIs help many.", id="a"), article("", "", id="b")]
    assert [(a.id, s) for a, s in extractor.extract(arts)] == [("a", []), ("b", [])]


def test_a_missing_trained_pipeline_is_a_config_error() -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="not installed"):
        build_nlp("en_core_web_nonexistent")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("a single 0.5 mg/kg i.v. infusion of ketamine", "IV ketamine"),
        ("Spravato nasal spray twice weekly", "esketamine nasal spray"),
        ("intranasal racemic ketamine", "intranasal ketamine"),
        ("oral ketamine lozenges at home", "oral ketamine"),
        ("IM ketamine in the clinic", "IM ketamine"),
        ("ketamine-assisted psychotherapy (KAP)", "ketamine-assisted psychotherapy"),
        ("arketamine did not separate from placebo", "arketamine"),
        ("ketamine works", None),
    ],
)
def test_forms_and_routes(text: str, form: str | None) -> None:
    assert ketamine_form(text) == form


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Esketamine was approved by the U.S. Food and Drug Administration in 2019. It costs more.",
            ["Esketamine was approved by the U.S. Food and Drug Administration in 2019.", "It costs more."],
        ),
        (
            "Clinics opened across the U.S. Earlier, few existed.",
            ["Clinics opened across the U.S.", "Earlier, few existed."],
        ),
        (
            "Dr. R. Alvarez of the Harvard T.H. Chan School said the M.D. Anderson team agreed.",
            ["Dr. R. Alvarez of the Harvard T.H. Chan School said the M.D. Anderson team agreed."],
        ),
        ("Mood rose in group B. It fell in group C.", ["Mood rose in group B.", "It fell in group C."]),
        (
            "The infusion was brief. (Results appear in JAMA.) Relief followed.",
            ["The infusion was brief.", "(Results appear in JAMA.)", "Relief followed."],
        ),
        ("One dose and poof! the dread lifted.", ["One dose and poof! the dread lifted."]),
        (
            "Vitals were read every 5 min. After that, nothing.",
            ["Vitals were read every 5 min.", "After that, nothing."],
        ),
        (
            "The trial was paid for by K. Lindqvist-Moreau and Harbor Bio Inc. More news soon.",
            ["The trial was paid for by K. Lindqvist-Moreau and Harbor Bio Inc.", "More news soon."],
        ),
        (
            "The clinic is in Austin, Tex. Patients come from far.",
            ["The clinic is in Austin, Tex.", "Patients come from far."],
        ),
        ("Shares of Harbor Bio Inc. rose.", ["Shares of Harbor Bio Inc. rose."]),
    ],
)
def test_initials_dotted_names_and_brackets(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
