"""From a news claim to the study behind it: preprint, PubMed and news feeds served on
127.0.0.1, and every story's expected study written beside it. The studies, outlets and people
are fictional; the findings are in the range real ketamine trials report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import cli
from monitor.config import Settings
from monitor.delivery.digest import build_digest, week_of
from monitor.delivery.render import render_text
from monitor.ingest.fetch import HttpFetcher
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import SentenceExtractor
from monitor.language.studies import dois_in, normalise_doi
from monitor.pipeline import run_once
from monitor.records import FeedSource
from monitor.storage.store import Store

from .test_web import get

RELAPSE = "10.1101/2026.10.28.26312001"  # the preprint most stories cover
PRESSURE = "10.1101/2026.10.30.26312077"  # same server, same month, another study
SUICIDE = "10.1101/2026.10.12.26311840"  # a trial registered as NCT05512345
JAMA = "10.1001/jamapsychiatry.2026.2231"  # a journal paper, also on PubMed as 40112233

PREPRINTS = [
    (RELAPSE, "2026-10-28", "Okafor C, Brandt L, Lindqvist M",
     "Time to relapse after an acute course of intravenous ketamine for treatment-resistant depression: "
     "a 26-week naturalistic follow-up",
     "We followed 311 adults who responded to six infusions. Median time to relapse was 11 weeks; "
     "booster infusions every three to six weeks halved the risk of relapse."),
    (PRESSURE, "2026-10-30", "Haddad R, Moreau P",
     "Blood pressure and dissociation during esketamine nasal spray treatment in 14 certified centres",
     "In 2,418 sessions, systolic pressure rose by 9.6 mmHg at 40 minutes; dissociation resolved "
     "within two hours in 97% of sessions."),
    (SUICIDE, "2026-10-12", "Tanaka Y, Obi N",
     "Single-dose ketamine versus midazolam for suicidal ideation in the emergency department",
     "In this trial (NCT05512345) of 156 adults, suicidal ideation fell more after ketamine at 24 hours."),
]  # fmt: skip

# path, title, description (HTML), date, the DOI it reports (None: no link), why
STORIES = [
    ("/s/doi-link", "Ketamine's lift fades within months for many, study finds",
     f'<p>Most patients relapsed within four months. <a href="https://doi.org/{RELAPSE}v2">Study</a>.</p>',
     "2026-11-02", RELAPSE, "links the DOI"),
    ("/s/metadata", "Ketamine benefit often wears off, Swedish-led team reports",
     "<p>Researchers led by Chidi Okafor followed 311 adults after six ketamine infusions and found that "
     "booster infusions halved the risk of relapse, according to a preprint posted on medRxiv.</p>",
     "2026-11-05", RELAPSE, "names the server, the first author and the finding"),
    ("/s/press", "University study: booster ketamine infusions keep depression at bay",
     "<p>Boosters every three to six weeks halved relapse among 311 patients followed for 26 weeks.</p>"
     f"<p>Reference: Okafor C et al. medRxiv 2026. doi:{RELAPSE}</p>",
     "2026-10-29", RELAPSE, "a press release that ends with the DOI"),
    ("/s/distractor", "Blood pressure spikes common during esketamine sessions",
     "<p>Across 2,418 esketamine nasal spray sessions in certified centres, blood pressure rose by nearly "
     "10 points, Rami Haddad and colleagues reported on medRxiv.</p>",
     "2026-11-03", PRESSURE, "same server and month as the relapse preprint: must not take its link"),
    ("/s/pubmed", "Ketamine for depression in older adults: new data",
     '<p>Older adults responded as well as younger ones. '
     '<a href="https://pubmed.ncbi.nlm.nih.gov/40112233/">Abstract</a></p>',
     "2026-11-06", JAMA, "links PubMed"),
    ("/s/trial", "Emergency rooms test ketamine for suicidal patients",
     "<p>The trial, registered as NCT05512345, found suicidal thoughts eased within a day.</p>",
     "2026-10-20", SUICIDE, "names the trial registration"),
    ("/s/unknown", "Nasal ketamine spray study in veterans shows promise",
     "<p>A study of 84 veterans published in The Lancet Psychiatry by Dr. Ana Ruiz found benefits "
     "lasting eight weeks.</p>",
     "2026-11-04", None, "a study the monitor does not hold"),
    ("/s/vague", "What to know about ketamine clinics",
     "<p>Ketamine clinics are spreading; relapse after infusions is common, experts say.</p>",
     "2026-11-04", None, "no study at all"),
]  # fmt: skip
EARLY = ("/s/early", "Older patients did as well on ketamine, doctors find",
         "<p>A team led by Grace Whitfield reports that 203 adults over 65 responded to ketamine "
         "infusions as often as younger adults, in a study in JAMA Psychiatry.</p>",
         "2026-11-06", JAMA, "arrives one pass before its paper")  # fmt: skip


def rdf(base: str) -> bytes:
    items = "".join(
        f'<item rdf:about="{base}/content/{doi}v1"><title>{title}</title><link>{base}/content/{doi}v1</link>'
        f"<description>{abstract}</description><dc:creator>{authors}</dc:creator><dc:date>{day}</dc:date>"
        f"<dc:identifier>doi:{doi}</dc:identifier></item>"
        for doi, day, authors, title, abstract in PREPRINTS
    )
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="{base}/"><title>medRxiv Subject Collection: Psychiatry</title>'
        f"<link>{base}/</link><description>d</description></channel>{items}</rdf:RDF>"
    ).encode()


def pubmed() -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>JAMA Psychiatry</title><link>https://jamanetwork.com</link><description>d</description>"
        "<item><title>Intravenous ketamine for treatment-resistant depression in adults older than 65 years"
        "</title><link>https://pubmed.ncbi.nlm.nih.gov/40112233/</link>"
        "<description>Among 203 older adults, response rates after six infusions matched those of younger "
        f"adults.</description><dc:creator>Whitfield G, Osei K, Park J</dc:creator><dc:identifier>doi:{JAMA}"
        "</dc:identifier><pubDate>Wed, 04 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def news(base: str, stories: list[tuple]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
        f"<description><![CDATA[{html}]]></description><pubDate>{day}T12:00:00Z</pubDate></item>"
        for path, title, html, day, _, _ in stories
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Health Wire</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def a_pass(server: HTTPServer, db: Path, feeds: list[str], extractor, classifier) -> None:
    with Store(db) as store, HttpFetcher(Settings(timeout=2.0, host_delay=0)) as fetcher:
        run_once([FeedSource(server.url_for(f)) for f in feeds], fetcher=fetcher, extractor=extractor,
                 classifier=classifier, store=store)  # fmt: skip


def links(db: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    with Store(db) as store:
        rows = store.db.execute("SELECT url, study_doi, study_article_id, study_signal FROM articles")
        return {url.split("/", 3)[-1]: (doi, article_id, signal) for url, doi, article_id, signal in rows}


@pytest.fixture
def wire(httpserver: HTTPServer) -> HTTPServer:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/preprints.rdf").respond_with_data(rdf("https://www.medrxiv.org"))
    httpserver.expect_request("/pubmed.xml").respond_with_data(pubmed())
    httpserver.expect_request("/news.xml").respond_with_data(news(base, STORIES))
    return httpserver


def test_stories_link_to_the_study_they_report_and_nothing_else(
    wire: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, classifier: ClaimClassifier
) -> None:
    db = tmp_path / "m.db"
    a_pass(wire, db, ["/preprints.rdf", "/pubmed.xml", "/news.xml"], extractor, classifier)
    found = links(db)
    made = correct = expected = 0
    for path, *_, doi, why in STORIES:
        study_doi, article_id, signal = found[path.lstrip("/")]
        made += study_doi is not None
        expected += doi is not None
        correct += doi is not None and study_doi == doi and article_id is not None
        assert study_doi == doi, f"{path} ({why}): {study_doi} by {signal}"
        assert (article_id is not None) == (doi is not None), path
    assert correct / made == 1.0 and correct / expected == 1.0
    # A paper is its own study.
    assert found[f"content/{RELAPSE}v1"][:1] == (RELAPSE,) and found[f"content/{RELAPSE}v1"][2] == "self"

    # Search and export by study: the preprint's own claims and its coverage's.
    runner = CliRunner()
    study = f"https://doi.org/{RELAPSE}"
    result = runner.invoke(
        cli, ["search", "relapse", "--study", study, "--db", str(db), "--format", "jsonl", "--limit", "100"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows and {r["study_doi"] for r in rows} == {RELAPSE}
    result = runner.invoke(cli, ["export", "--study", RELAPSE, "--db", str(db), "--format", "jsonl"])
    exported = [json.loads(line) for line in result.output.splitlines()]
    assert {r["article_url"].split("/", 3)[-1] for r in exported} >= {"s/press", "s/metadata"}
    assert all(r["study_title"].startswith("Time to relapse") for r in exported)

    # The digest says which study a story's claim reports; the browser lists a study's coverage.
    this_week = week_of(None, "UTC", datetime.now(UTC) + timedelta(days=7))
    with Store(db) as store:
        text = render_text(build_digest(store, this_week))
    assert "Reports: Time to relapse after an acute course of intravenous ketamine" in text
    assert "medRxiv Subject Collection: Psychiatry" in text.split("Reports: Time to relapse", 1)[1][:200]
    assert "Covered by Health Wire" in text  # under the preprint's own claims
    status, rows = get(db, f"/{db.stem}/coverage_of_a_study.json?_shape=array&study={RELAPSE}")
    assert status == 200 and {r["source"] for r in rows} >= {
        "Health Wire",
        "medRxiv Subject Collection: Psychiatry",
    }


def test_a_story_that_came_first_is_linked_when_its_paper_arrives(
    httpserver: HTTPServer, tmp_path: Path, extractor: SentenceExtractor, classifier: ClaimClassifier
) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/news.xml").respond_with_data(news(base, [EARLY]))
    db = tmp_path / "m.db"
    a_pass(httpserver, db, ["/news.xml"], extractor, classifier)
    assert links(db)["s/early"] == (None, None, None)
    httpserver.expect_request("/pubmed.xml").respond_with_data(pubmed())
    a_pass(httpserver, db, ["/news.xml", "/pubmed.xml"], extractor, classifier)
    doi, article_id, signal = links(db)["s/early"]
    assert (doi, signal) == (JAMA, "metadata") and article_id is not None


def test_dois_are_found_and_normalised_wherever_they_are_written() -> None:
    text = (
        f"https://www.medrxiv.org/content/{RELAPSE}v3.full.pdf, doi:{JAMA.upper()}. "
        "(https://doi.org/10.1016/S0140-6736(26)01234-5)"
    )
    assert dois_in(text) == [RELAPSE, JAMA, "10.1016/s0140-6736(26)01234-5"]
    assert normalise_doi(f"{RELAPSE}v2") == RELAPSE


@pytest.mark.parametrize(
    ("authors", "surnames"),
    [
        ("Raman, P.; Delacroix, J.; Yamaguchi, T.", ["Raman", "Yamaguchi"]),  # medRxiv
        ("Okafor C, Brandt L, Lindqvist M", ["Okafor", "Lindqvist"]),  # PubMed
        ("Jane Smith, Kim Lee", ["Smith", "Lee"]),
    ],
)
def test_first_and_last_authors_are_read_from_every_way_feeds_write_them(
    authors: str, surnames: list[str]
) -> None:
    from monitor.language.studies import _surnames

    assert _surnames(authors) == surnames
