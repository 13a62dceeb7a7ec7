"""Which study an article reports: from a news claim to the paper or preprint behind it.

Signals in order of trust, as Altmetric and the published news-to-paper linkers use them: a DOI
in the item's link or text (doi.org/..., doi:10...., publisher URLs that embed one, medRxiv and
bioRxiv's content/10.1101/...); a PubMed or PMC id; a ClinicalTrials.gov NCT number shared with a
stored paper; then metadata matching against the papers and preprints already stored (journal or
server named, first or last author's surname, the sample size, the paper's distinctive title
words), within a window around the story's date. Below a confidence threshold, or when two
stored papers match about equally well, no link is made: a wrong link is worse than none.
Pure functions: the store hands in the articles and candidates and writes the answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.records import StudyLink

PAPER_TIERS = ("preprint", "peer-reviewed")
# A paper can be covered up to 60 days after it appears, or up to 14 days before (embargoed
# press releases and stories that run ahead of the journal's online date).
BEFORE_STORY = timedelta(days=60)
AFTER_STORY = timedelta(days=14)
MIN_CONFIDENCE = 0.6
SHARED_WORDS = 4  # distinctive words of the paper a story must share to count as fully on topic
MIN_MARGIN = 0.15  # over the second-best paper: two trials in one journal and month stay apart

DOI_RE = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>\]\[{}|\\^`]+", re.I)
PMID_RE = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|nih\.gov/pubmed/|\bPMID:?\s*)(\d{5,9})", re.I)
PMC_RE = re.compile(r"\bPMC\d{4,9}\b")
NCT_RE = re.compile(r"\bNCT\d{8}\b", re.I)
SAMPLE_RE = re.compile(
    r"\bn\s*=\s*(\d{1,3}(?:,\d{3})+|\d{2,7})\b|\b(\d{1,3}(?:,\d{3})+|\d{2,7})\s+(?:[a-z-]+\s+){0,3}?"
    r"(?:patients|participants|adults|people|veterans|subjects|women|men|children|adolescents|"
    r"individuals|volunteers|users|residents)\b",
    re.I,
)
WORD_RE = re.compile(r"[a-z][a-z-]{3,}")
# Words every study title in this field shares: they say nothing about which study it is.
COMMON = frozenset(
    """ketamine esketamine arketamine depression depressive disorder disorders major treatment
    treatments resistant patients adults people study trial trials randomized randomised
    controlled double-blind placebo-controlled clinical effect effects efficacy safety outcomes
    outcome among with without after before from into their versus compared comparison single
    repeated multiple analysis results association associated using intravenous nasal spray
    infusion infusions dose doses evidence review systematic meta-analysis cohort observational
    open-label pilot phase study's during within over under than this that these those which
    while about across between based weeks months years found reported researchers percent people
    report reports showed shows show were have been also more less most their they said says
    data""".split()
)


@dataclass(frozen=True)
class Paper:
    """A stored paper or preprint, as a candidate study."""

    article_id: str
    doi: str | None
    title: str
    text: str  # its abstract
    source: str  # journal or server (feed name)
    url: str | None
    authors: str | None
    published: datetime | None


@dataclass(frozen=True)
class Story:
    """A stored news story or press release, as the linker reads it."""

    article_id: str
    evidence_tier: str
    doi: str | None
    url: str | None
    title: str
    text: str  # the feed's text and, when it was read, the page's
    published: datetime | None


def normalise_doi(doi: str) -> str:
    """Lower case, without a trailing version or page suffix ("v2", ".full", ".full.pdf") or
    punctuation: the same study under every address it is given."""
    doi = doi.strip().lower().rstrip(".,;:")
    while doi.endswith(")") and doi.count(")") > doi.count("("):  # "(doi:10.1/x)" in prose
        doi = doi[:-1].rstrip(".,;:")
    doi = re.sub(r"(?:\.full(?:\.pdf|-text)?|\.abstract|\.article-info|\.supplementary-material)$", "", doi)
    if doi.startswith("10.1101/"):
        doi = re.sub(r"v\d+$", "", doi)  # medRxiv and bioRxiv versions
    return doi


def dois_in(*texts: str | None) -> list[str]:
    """Every DOI in the texts, normalised, in order of first appearance."""
    found: dict[str, None] = {}
    for text in texts:
        for match in DOI_RE.finditer(text or ""):
            found[normalise_doi(match.group(0))] = None
    return list(found)


def trial_ids_in(*texts: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(0).upper() for t in texts for m in NCT_RE.finditer(t or "")))


def pubmed_ids_in(*texts: str | None) -> tuple[str, ...]:
    ids = [f"pmid:{m.group(1)}" for t in texts for m in PMID_RE.finditer(t or "")]
    ids += [f"pmc:{m.group(0).upper()}" for t in texts for m in PMC_RE.finditer(t or "")]
    return tuple(dict.fromkeys(ids))


def references_in(html: str) -> tuple[str, ...]:
    """The study references in a page or item body's HTML, links included (plain text loses an
    <a href="https://doi.org/...">): DOIs, PubMed and PMC ids, NCT numbers, as "doi:...",
    "PMID: ...", "PMC...", "NCT..." strings the other readers here understand."""
    refs = [f"doi:{d}" for d in dois_in(html)]
    refs += [f"PMID: {i[5:]}" if i.startswith("pmid:") else i[4:] for i in pubmed_ids_in(html)]
    refs += list(trial_ids_in(html))
    return tuple(dict.fromkeys(refs))


def own_study(paper: Paper) -> StudyLink:
    """A paper or preprint is its own study."""
    return StudyLink(
        normalise_doi(paper.doi) if paper.doi else None, paper.article_id, paper.title, "self", 1.0,
        trial_ids_in(paper.title, paper.text),
    )  # fmt: skip


def link_story(story: Story, papers: Sequence[Paper]) -> StudyLink | None:
    """The study a story reports, or None. `papers` are the stored papers and preprints; the
    story's DOIs are trusted first, then ids, then metadata."""
    trials = trial_ids_in(story.title, story.text)
    in_window = [p for p in papers if _in_window(story, p)]
    by_doi = {normalise_doi(p.doi): p for p in papers if p.doi}
    link_dois = dois_in(story.url)
    text_dois = [d for d in dois_in(story.doi, story.text) if d not in link_dois]
    dois = link_dois + text_dois
    if dois:
        held = [d for d in dois if d in by_doi]
        if link_dois:
            chosen = link_dois[0]
        elif len(dois) == 1:
            chosen = dois[0]
        elif held:  # several cited: the held one the story is about, if one stands out
            best = _best(story, [by_doi[d] for d in held])
            chosen = normalise_doi(best[0].doi or "") if best else ""
        else:
            chosen = ""
        if chosen:
            paper = by_doi.get(chosen)
            return StudyLink(chosen, paper.article_id if paper else None, paper.title if paper else None,
                             "doi", 1.0, trials)  # fmt: skip
    pubmed = set(pubmed_ids_in(story.url, story.text))
    if pubmed:
        for paper in papers:
            if pubmed & set(pubmed_ids_in(paper.url, paper.text)):
                return _link(paper, "pubmed", 0.95, trials)
    if trials:
        sharing = [p for p in in_window if set(trials) & set(trial_ids_in(p.title, p.text))]
        if len(sharing) == 1:
            return _link(sharing[0], "nct", 0.9, trials)
    best = _best(story, in_window)
    if best is None:
        return StudyLink(None, None, None, "none", 0.0, trials) if trials else None
    paper, score = best
    return _link(paper, "metadata", round(score, 3), trials)


def _link(paper: Paper, signal: str, confidence: float, trials: tuple[str, ...]) -> StudyLink:
    doi = normalise_doi(paper.doi) if paper.doi else None
    return StudyLink(doi, paper.article_id, paper.title, signal, confidence, trials)


def _best(story: Story, papers: Iterable[Paper]) -> tuple[Paper, float] | None:
    """The paper whose metadata the story matches best, when it is sure and clear of the next."""
    scored = sorted(((match_score(story, p), p) for p in papers), key=lambda sp: sp[0], reverse=True)
    if not scored or scored[0][0] < MIN_CONFIDENCE:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MIN_MARGIN:
        return None
    return scored[0][1], scored[0][0]


def match_score(story: Story, paper: Paper) -> float:
    """How surely the story reports this paper, 0 to 1: words distinctive of the paper (its
    title and abstract, not the field's common words) must be in the story, and at least one
    specific signal (venue, an author, the sample size)."""
    text = f"{story.title}\n{story.text}"
    lowered = text.lower()
    story_words = set(WORD_RE.findall(lowered))
    hits = sum(1 for w in _distinctive(f"{paper.title} {paper.text}") if w in story_words)
    overlap = min(1.0, hits / SHARED_WORDS)
    venue = any(re.search(rf"\b{re.escape(v)}\b", lowered) for v in _venues(paper))
    author = any(re.search(rf"\b{re.escape(s)}\b", text) for s in _surnames(paper.authors))
    sample = bool(_sample_sizes(paper.text) & _sample_sizes(text))
    specific = 0.25 * venue + 0.3 * author + 0.25 * sample
    if not specific or overlap < 0.3:
        return min(0.5, specific + 0.4 * overlap)
    return min(1.0, specific + 0.5 * overlap)


def _in_window(story: Story, paper: Paper) -> bool:
    if story.published is None or paper.published is None:
        return True
    return story.published - BEFORE_STORY <= paper.published <= story.published + AFTER_STORY


def _distinctive(title: str) -> list[str]:
    return list(dict.fromkeys(w for w in WORD_RE.findall(title.lower()) if w not in COMMON))


def _venues(paper: Paper) -> list[str]:
    """How a story names where the paper appeared: the server, or the journal (the feed's name)."""
    source = paper.source.lower()
    where = f"{source} {paper.url or ''} {paper.doi or ''}".lower()
    names = [name for name in ("medrxiv", "biorxiv", "psyarxiv") if name in where]
    if not names:
        names.append(source.split(":")[0].strip())
    return [n for n in names if len(n) > 3]


def _surnames(authors: str | None) -> list[str]:
    """First and last author's surnames, as feeds write author lists: "Raman, P.; Stein, A. B."
    (medRxiv), "Smith J, Lee K" (PubMed), "Jane Smith, Kim Lee"."""
    text = authors or ""
    people = [a.strip() for a in re.split(r";| and " if ";" in text else r",| and ", text) if a.strip()]
    if not people:
        return []
    names = []
    for person in [people[0], people[-1]] if len(people) > 1 else people:
        if "," in person:  # "Surname, Initials"
            surname = person.split(",")[0]
        elif re.search(r"\b[A-Z]{1,3}\.?$", person):  # "Surname Initials"
            surname = person.split()[0]
        else:  # "Given Surname"
            surname = person.split()[-1]
        surname = surname.strip(" .")
        if len(surname) > 2:
            names.append(surname)
    return list(dict.fromkeys(names))


def _sample_sizes(text: str) -> set[int]:
    """Numbers of people ("312 adults", "n = 312"), 10 or more."""
    sizes = set()
    for match in SAMPLE_RE.finditer(text):
        n = int((match.group(1) or match.group(2)).replace(",", ""))
        if n >= 10:
            sizes.add(n)
    return sizes
