"""What a claim says besides its category: hedging, study type, sample size, durations,
money and percentages, and the evidence tier of its source; polarity comes from the classifier.

Rules over the sentence text (and, for study type and sample size, the article it came
from), so every attribute can be explained by pointing at the words that set it. Polarity is
not among them: on real text a rule such as "did not ... means a null finding" was right only
about half the time ("patients who did not get the drug died more often").
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from monitor.records import ClaimAttributes, Money

HEDGE_RE = re.compile(
    r"\b(?:may|might|could|possibly|possible|potential(?:ly)?|suggests?|suggested|suggesting|"
    r"appears?|appeared|seems?|seemed|preliminary|(?<!more )(?<!less )likely|unlikely|probably|perhaps|"
    r"uncertain|unclear|tentative(?:ly)?|hints?|early evidence|hypothes\w+|expects?|expected|"
    r"would|not yet known|remains to be)\b",
    re.IGNORECASE,
)

STUDY_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "meta-analysis",
        re.compile(r"\bmeta-?analys[ie]s|\bsystematic review|\bpooled analysis|\bumbrella review", re.I),
    ),
    (
        "modelling",
        re.compile(
            r"\bcost-?effectiveness|\bcost-?utility|\bmarkov|\bICERs?\b|\bQALYs?\b|\bmicrosimulation"
            r"|\beconomic model",
            re.I,
        ),
    ),
    (
        "animal",
        re.compile(
            r"\b(?:mice|mouse|rats?|rodents?|murine|preclinical|in vivo|animal model|primates?)\b", re.I
        ),
    ),
    (
        "case report",
        re.compile(
            r"\bcase (?:report|series|study)\b|\bwe (?:report|describe|present) (?:a|an|the case)", re.I
        ),
    ),
    ("open-label", re.compile(r"\bopen-?label\b|\bsingle-?arm\b|\buncontrolled\b", re.I)),
    (
        "RCT",
        re.compile(
            r"\brandomi[sz]ed\b|\bRCTs?\b|\bplacebo-controlled\b|\bdouble-?blind\b"
            r"|\bphase (?:2|3|II|III|IIb)\b",
            re.I,
        ),
    ),
    (
        "observational",
        re.compile(
            r"\bcohort\b|\bretrospective\b|\bprospective\b|\bobservational\b|\bregistry\b|\breal-world\b|"
            r"\bclaims (?:data|database)\b|\bchart review\b|\bnaturalistic\b|\bcase-control\b",
            re.I,
        ),
    ),
    ("survey", re.compile(r"\bsurvey(?:ed)?\b|\bquestionnaire\b|\bpoll\b", re.I)),
)

_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?"
SAMPLE_RE = re.compile(
    rf"\b[nN]\s*=\s*(?P<n>{_NUMBER})"
    rf"|(?P<count>{_NUMBER})\s+(?:adult |older |young |US |UK |veteran |eligible |consecutive |depressed |"
    r"outpatients |hospitali[sz]ed )?(?:patients|participants|people|adults|veterans|subjects|"
    r"individuals|volunteers|women|men|adolescents|children|respondents|users|residents|outpatients|"
    r"inpatients|youths|teenagers|people with depression|psychiatrists)\b"
)
WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "eighteen": 18,
    "twenty": 20, "thirty": 30, "several": None, "few": None,
}  # fmt: skip
UNIT_DAYS = {
    "hour": 1 / 24,
    "h": 1 / 24,
    "hr": 1 / 24,
    "day": 1,
    "week": 7,
    "wk": 7,
    "month": 30.44,
    "year": 365.25,
}
DURATION_RE = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?|" + "|".join(k for k, v in WORD_NUMBERS.items() if v) + r")"
    r"(?:\s*(?:-|to|\u2013)\s*(?P<n2>\d+(?:\.\d+)?))?[\s-]*"
    r"(?P<unit>hours?|hrs?|h|days?|weeks?|wks?|months?|years?)\b",
    re.IGNORECASE,
)
CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD",
                    "NZ$": "NZD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}  # fmt: skip
CURRENCY_WORDS = {"dollars": "USD", "pounds": "GBP", "euros": "EUR", "usd": "USD", "gbp": "GBP", "eur": "EUR",
                  "aud": "AUD", "cad": "CAD"}  # fmt: skip
MONEY_RE = re.compile(
    r"(?P<sym>US\$|A\$|AU\$|C\$|CA\$|NZ\$|\$|£|€|¥|₹)\s?(?P<amount>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>k|m|bn|thousand|million|billion)\b)?"
    r"|(?P<amount2>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(?P<scale2>thousand|million|billion)?\s?"
    r"(?P<word>dollars|pounds|euros|USD|GBP|EUR|AUD|CAD)\b",
    re.IGNORECASE,
)
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
PERCENT_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s?(?:%|per ?cent\b|percent\b)", re.IGNORECASE)


def hedged(text: str) -> bool:
    return HEDGE_RE.search(text) is not None


def study_type(sentence: str, context: str = "") -> str | None:
    """The design stated in the sentence, else in the article's title and opening."""
    return _design(sentence) or _design(context)


@functools.lru_cache(maxsize=64)
def _design(text: str) -> str | None:
    # Cached: every claim of an article asks about the same title and opening (the patterns took
    # 0.45 s of the 2.7 s a first pass spent classifying on the polling benchmark, with pages).
    for name, pattern in STUDY_TYPES:
        if text and pattern.search(text):
            return name
    return None


def sample_size(sentence: str, context: str = "") -> int | None:
    for text in (sentence, context):
        match = SAMPLE_RE.search(text or "")
        if match:
            value = int(float((match.group("n") or match.group("count")).replace(",", "")))
            if 1 < value < 10_000_000 and not _looks_like_a_year(value, match.group(0)):
                return value
    return None


def _looks_like_a_year(value: int, matched: str) -> bool:
    return 1900 <= value <= 2100 and "=" not in matched


def durations_days(text: str) -> tuple[float, ...]:
    """Every stated duration in days: "two weeks" -> 14, "24 h" -> 1, "6 months" -> 182.6.
    A range ("3-7 days") gives its upper end: the claim is about how long, at most."""
    found = []
    for match in DURATION_RE.finditer(text):
        raw = (match.group("n2") or match.group("n")).lower()
        number = WORD_NUMBERS.get(raw) if raw in WORD_NUMBERS else float(raw)
        if number is None:
            continue
        unit = match.group("unit").lower().rstrip("s")
        unit = {"hr": "hour", "wk": "week"}.get(unit, unit)
        if unit == "h" and not re.match(r"\d", raw):
            continue
        found.append(round(float(number) * UNIT_DAYS[unit], 2))
    return tuple(found)


def amounts(text: str) -> tuple[Money, ...]:
    found = []
    for match in MONEY_RE.finditer(text):
        if match.group("sym"):
            currency = CURRENCY_SYMBOLS[match.group("sym").upper() if match.group("sym") != "$" else "$"]
            value = float(match.group("amount").replace(",", ""))
            scale = (match.group("scale") or "").lower()
        else:
            currency = CURRENCY_WORDS[match.group("word").lower()]
            value = float(match.group("amount2").replace(",", ""))
            scale = (match.group("scale2") or "").lower()
        found.append(Money(value * SCALES.get(scale, 1), currency))
    return tuple(found)


def percentages(text: str) -> tuple[float, ...]:
    return tuple(float(m.group("n")) for m in PERCENT_RE.finditer(text))


def describe(
    sentence: str, context: str = "", form: str | None = None, polarity: str | None = None
) -> ClaimAttributes:
    """The attributes of one claim sentence; context is the article's title and opening. The
    polarity is the classifier's, or None where it was not sure enough to say."""
    return ClaimAttributes(
        polarity=polarity,
        hedged=hedged(sentence),
        study_type=study_type(sentence, context),
        sample_size=sample_size(sentence, context),
        form=form,
        durations_days=durations_days(sentence),
        amounts=amounts(sentence),
        percentages=percentages(sentence),
    )


# -- evidence tier of a source ---------------------------------------------------

PREPRINT_HOSTS = ("medrxiv.org", "biorxiv.org", "arxiv.org", "psyarxiv.com", "osf.io", "researchsquare.com",
                  "preprints.org", "ssrn.com")  # fmt: skip
REGULATOR_HOSTS = ("fda.gov", "ema.europa.eu", "gov.uk", "nice.org.uk", "tga.gov.au", "canada.ca",
                   "scottishmedicines.org.uk", "cadth.ca", "cms.gov", "nih.gov", "who.int", "hhs.gov",
                   "cda-amc.ca", "medicaid.gov")  # fmt: skip
PRESS_HOSTS = ("prnewswire.com", "businesswire.com", "globenewswire.com", "eurekalert.org", "newswise.com",
               "jnj.com", "janssen.com", "accesswire.com")  # fmt: skip
JOURNAL_HOSTS = ("pubmed.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov", "nejm.org", "thelancet.com",
                 "jamanetwork.com", "bmj.com", "nature.com", "sciencedirect.com", "wiley.com", "springer.com",
                 "tandfonline.com",
                 "psychiatryonline.org", "cell.com", "sagepub.com", "frontiersin.org", "plos.org", "mdpi.com",
                 "oup.com", "cambridge.org", "doi.org", "biomedcentral.com", "elsevier.com")  # fmt: skip


def evidence_tier(feed_url: str, article_url: str | None, doi: str | None, source: str = "") -> str:
    """preprint, peer-reviewed, press release, regulator or news, from where the item came."""
    hosts = [urlsplit(u).hostname or "" for u in (article_url or "", feed_url)]

    def on(domains: tuple[str, ...]) -> bool:
        return any(h == d or h.endswith("." + d) for h in hosts for d in domains)

    if on(PREPRINT_HOSTS) or (doi or "").startswith("10.1101/"):
        return "preprint"
    if on(REGULATOR_HOSTS) and not on(("ncbi.nlm.nih.gov",)):
        return "regulator"
    if on(PRESS_HOSTS) or re.search(r"press release|press office|newsroom", source, re.I):
        return "press release"
    if on(JOURNAL_HOSTS) or doi:
        return "peer-reviewed"
    return "news"
