"""Researchers' search and export: every filter, hostile input, form expansion, streaming."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.export import export_claims
from monitor.pipeline import claim_id
from monitor.records import Article, Claim, ClaimFilter, Sentence
from monitor.store import Store
from tests.helpers import store_claim


def put(
    store: Store,
    n: int,
    text: str,
    category: str = "safety",
    *,
    source: str = "Ledger",
    published: str = "2026-06-15",
    **options: object,
) -> None:
    store_claim(store, n, text, category, source=source, published=published, **options)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "s.db"
    with Store(path) as store:
        put(
            store,
            1,
            "Ketamine caused bladder damage in heavy users.",
            published="2026-07-02",
            study_type="case report",
            polarity="positive",
            form="IV ketamine",
        )
        put(
            store,
            2,
            "Esketamine was linked to dissociation in most patients.",
            source="Medical Wire",
            tier="peer-reviewed",
            study_type="RCT",
            form="esketamine nasal spray",
            published="2026-05-01",
        )
        put(
            store,
            3,
            "Arketamine showed no dissociative effects.",
            "efficacy",
            polarity="null_or_negative",
            tier="preprint",
            published="2026-06-30",
        )
        put(
            store,
            4,
            "Spravato costs insurers $900 a session.",
            "cost",
            source="The Ledger (US)",
            title="Bladder clinics face cost questions",
            published="2026-09-01",
        )
        put(store, 5, "Ketamine might help sleep.", "duration", confidence=0.4, uncertain=True)
        put(store, 6, "Infusions cost 50% less at 100% capacity_", "cost", source="50%_off Clinics")
    return path


def search(db: Path, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["search", *args, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def texts(rows: list[dict]) -> set[str]:
    return {r["text"].split()[0] for r in rows}


def test_ketamine_finds_every_form_and_prefixes_work(db: Path) -> None:
    assert texts(search(db, "ketamine")) == {"Ketamine", "Esketamine", "Arketamine", "Spravato"}
    assert texts(search(db, "dissociat*")) == {"Esketamine", "Arketamine"}
    assert texts(search(db, "bladder")) == {"Ketamine", "Spravato"}  # the second through its title
    assert search(db, "bladder")[0]["text"].startswith("Ketamine caused")  # the sentence outranks a title


def test_words_are_stemmed_and_prefixes_meet_the_stems(tmp_path: Path) -> None:
    with Store(tmp_path / "stem.db") as store:
        put(store, 1, "Most patients relapsed within a month of the last infusion.", "duration")
        put(store, 2, "Relapsing patients were given booster infusions.", "duration")
        put(store, 3, "Two patients were hospitalized after severe dissociation.", "safety")
        put(store, 4, "Hospitalization rates did not differ between arms.", "safety")
        put(store, 5, "Happiness scores rose within a day.", "efficacy")
    db = tmp_path / "stem.db"
    assert texts(search(db, "relapse")) == {"Most", "Relapsing"}
    assert texts(search(db, "infusions")) == {"Most", "Relapsing"}
    assert texts(search(db, "hospitaliz*")) == {"Two", "Hospitalization"}
    assert texts(search(db, "happy*")) == {"Happiness"}  # FTS5 stems the prefix: "happi*"
    assert texts(search(db, "dissociat*")) == {"Two"}
    assert texts(search(db, '"booster infusion"')) == {"Relapsing"}  # phrases are stemmed too


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--category", "cost"], {"Spravato", "Infusions"}),
        (["--category", "cost", "--category", "efficacy"], {"Spravato", "Infusions", "Arketamine"}),
        (["--since", "2026-06-30"], {"Ketamine", "Arketamine", "Spravato"}),
        (["--until", "2026-06-30"], {"Esketamine", "Arketamine", "Infusions"}),
        (["--since", "2026-06-01", "--until", "2026-06-30"], {"Arketamine", "Infusions"}),
        (["--source", "ledger"], {"Ketamine", "Arketamine", "Spravato"}),
        (["--source", "50%_"], {"Infusions"}),  # LIKE wildcards are plain text
        (["--evidence-tier", "peer-reviewed", "--evidence-tier", "preprint"], {"Esketamine", "Arketamine"}),
        (["--study-type", "RCT"], {"Esketamine"}),
        (["--polarity", "null_or_negative"], {"Arketamine"}),
        (["--form", "esketamine nasal spray"], {"Esketamine"}),
        (["--min-confidence", "0.5"], {"Ketamine", "Esketamine", "Arketamine", "Spravato", "Infusions"}),
        (["--include-uncertain"], {"Ketamine", "Esketamine", "Arketamine", "Spravato", "Infusions"}),
    ],
)
def test_each_filter_with_an_empty_query(db: Path, args: list[str], expected: set[str]) -> None:
    assert texts(search(db, *args)) == expected


def test_uncertain_claims_only_when_asked(db: Path) -> None:
    assert "Ketamine might help sleep." not in {r["text"] for r in search(db, "sleep")}
    assert [r["text"] for r in search(db, "sleep", "--include-uncertain")] == ["Ketamine might help sleep."]


def test_limit_and_offset_page_through_results(db: Path) -> None:
    first, second = search(db, "--limit", "2"), search(db, "--limit", "2", "--offset", "2")
    assert len(first) == len(second) == 2 and not texts(first) & texts(second)


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "a) OR (b",
        "NEAR(x y)",
        "“curly”",
        "col:umn",
        "-minus",
        "^caret",
        "AND",
        "' OR 1=1 --",
        "bladder " * 400,
        "😀 ketamine",
        "\x00",
    ],
)
def test_hostile_input_is_just_text(db: Path, query: str) -> None:
    result = CliRunner().invoke(cli, ["search", "--db", str(db), "--", query])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_bad_dates_are_clear(db: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "x", "--since", "June", "--db", str(db)])
    assert result.exit_code == 2 and "'June' is not a date like 2026-06-01" in result.output


def test_table_fits_the_width(db: Path) -> None:
    from monitor.export import format_table

    with Store(db, readonly=True) as store:
        hits = store.search("ketamine", ClaimFilter())
    assert all(
        len(line) <= 60
        for line in format_table(hits, width=60).splitlines()
        if not line.startswith("   http")
    )


def test_export_takes_the_same_filters_and_counts_first(db: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--category", "cost", "--format", "jsonl"])
    header, *rows = [json.loads(line) for line in result.output.splitlines()]
    assert header["count"] == len(rows) == 2 and "evidence_tier" in header["fields"]
    whole = json.loads(CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "json"]).output)
    assert whole["count"] == len(whole["claims"]) == 6  # every claim, uncertain ones too
    csv_text = (
        CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "csv", "--exclude-uncertain"]).output
    )
    assert csv_text.splitlines()[0] == "# 5 claims" and len(csv_text.splitlines()) == 7


def test_export_streams_in_constant_memory(tmp_path: Path) -> None:
    """Memory stays flat however many claims: ten times the rows, about the same peak.
    (benchmarks/export_memory.py runs the same check on 200,000 claims.)"""
    peaks = {}
    for rows in (1_000, 10_000):
        path = tmp_path / f"{rows}.db"
        with Store(path) as store:
            fill(store, rows)
        tracemalloc.start()
        written = export_claims(path, "jsonl", _Discard())
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert written == rows
    assert peaks[10_000] < 1.5 * peaks[1_000], peaks


def fill(store: Store, rows: int, per_article: int = 500) -> None:
    for n in range(rows // per_article):
        text = f"Ketamine trial {n} reported response in {n % 90}% of patients."
        article = Article(
            f"url:https://big.example/{n}", None, f"Trial {n}", text, "Big", "https://big.example"
        )
        sentences = (
            Sentence(article.id, text, "text", i, i + len(text), ("Ketamine",)) for i in range(per_article)
        )
        store.save_article(
            article, [Claim(claim_id(s), s, "efficacy", 0.9, 0.9, "v", {"efficacy": 0.9}) for s in sentences]
        )


class _Discard(io.TextIOBase):
    """Counts what is written and keeps none of it, so only the exporter's own memory is measured."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def test_a_very_common_term_is_ranked_among_its_newest_matches_without_losing_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.store

    monkeypatch.setattr(monitor.store, "RANK_WINDOW", 3)
    path = tmp_path / "window.db"
    with Store(path) as store:
        # The oldest claim is the best BM25 match (shortest), but falls outside the window.
        put(store, 1, "Infusion helped.", "efficacy", tier="preprint")
        for n in range(2, 7):
            put(store, n, f"Patient {n} was given a weekly infusion for a month, then stopped.", "duration")
        newest = [c.text for c in store.search("infusion", ClaimFilter(limit=2))]
        preprints = store.search("infusion", ClaimFilter(evidence_tiers=("preprint",)))
        deep = store.search("infusion", ClaimFilter(limit=2, offset=4))
        everything = store.search("infusion", ClaimFilter(limit=20))
    assert all(text.startswith(("Patient 4", "Patient 5", "Patient 6")) for text in newest)
    assert [c.text for c in preprints] == ["Infusion helped."]  # outside the window, still found
    assert len(deep) == 2  # a page past the window falls back to scoring every match
    assert len(everything) == 6 and everything[0].text == "Infusion helped."
