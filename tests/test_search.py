"""Researchers' search and export: every filter, hostile input, form expansion, streaming."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.delivery.export import EXPORT_FIELDS, export_claims
from monitor.pipeline import claim_id
from monitor.records import Article, Claim, ClaimFilter, Sentence
from monitor.storage.store import Store
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
        put(
            store,
            5,
            "Sleep may stay better for weeks after ketamine.",
            "duration",
            confidence=0.4,
            uncertain=True,
        )
        put(store, 6, "Infusions cost 50% less at 100% capacity_", "cost", source="50%_off Clinics")
    return path


def search(db: Path, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["search", *args, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def texts(rows: list[dict]) -> set[str]:
    return {r["text"].split()[0] for r in rows}


def test_ketamine_finds_every_form_and_prefixes_work(db: Path) -> None:
    assert texts(search(db, "ketamine")) == {"Ketamine", "Esketamine", "Arketamine", "Spravato", "Sleep"}
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


EVERY = {"Ketamine", "Esketamine", "Arketamine", "Spravato", "Infusions", "Sleep"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--category", "cost"], {"Spravato", "Infusions"}),
        (["--category", "cost", "--category", "efficacy"], {"Spravato", "Infusions", "Arketamine"}),
        (["--since", "2026-06-30"], {"Ketamine", "Arketamine", "Spravato"}),
        (["--until", "2026-06-30"], {"Esketamine", "Arketamine", "Infusions", "Sleep"}),
        (["--since", "2026-06-01", "--until", "2026-06-30"], {"Arketamine", "Infusions", "Sleep"}),
        (["--source", "ledger"], {"Ketamine", "Arketamine", "Spravato", "Sleep"}),
        (["--source", "50%_"], {"Infusions"}),  # LIKE wildcards are plain text
        (["--evidence-tier", "peer-reviewed", "--evidence-tier", "preprint"], {"Esketamine", "Arketamine"}),
        (["--study-type", "RCT"], {"Esketamine"}),
        (["--polarity", "null_or_negative"], {"Arketamine"}),
        (["--form", "esketamine nasal spray"], {"Esketamine"}),
        (["--min-confidence", "0.5"], EVERY - {"Sleep"}),
        (["--exclude-uncertain"], EVERY - {"Sleep"}),
        ([], EVERY),  # uncertain claims are included unless excluded, in search as in export
    ],
)
def test_each_filter_with_an_empty_query(db: Path, args: list[str], expected: set[str]) -> None:
    found = search(db, *args)
    assert texts(found) == expected and len(found) == len(expected)


FILTERS = [
    [],
    ["--category", "cost"],
    ["--category", "duration"],
    ["--since", "2026-06-30"],
    ["--until", "2026-06-30", "--source", "ledger"],
    ["--evidence-tier", "preprint", "--evidence-tier", "news"],
    ["--exclude-uncertain"],
    ["--study-type", "RCT", "--polarity", "positive"],
]


@pytest.mark.parametrize("args", FILTERS)
def test_search_and_export_give_the_same_claims_for_the_same_filters(db: Path, args: list[str]) -> None:
    searched = CliRunner().invoke(
        cli, ["search", *args, "--limit", "1000", "--format", "jsonl", "--db", str(db)]
    )
    exported = CliRunner().invoke(cli, ["export", *args, "--format", "jsonl", "--db", str(db)])
    assert searched.exit_code == exported.exit_code == 0, searched.output + exported.output
    ids = [
        sorted(json.loads(line)["claim_id"] for line in r.output.splitlines()) for r in (searched, exported)
    ]
    assert ids[0] == ids[1]
    counted = CliRunner().invoke(cli, ["export", *args, "--count", "--db", str(db)])
    assert counted.output == f"{len(ids[1])}\n"


def test_uncertain_claims_are_shown_and_marked(db: Path) -> None:
    assert [r["text"] for r in search(db, "sleep")] == ["Sleep may stay better for weeks after ketamine."]
    assert search(db, "sleep", "--exclude-uncertain") == []
    table = CliRunner().invoke(cli, ["search", "sleep", "--db", str(db)]).output
    assert "duration (0.40, uncertain)" in table
    table = CliRunner().invoke(cli, ["search", "bladder", "--db", str(db)]).output
    assert "uncertain" not in table
    for command in ("search", "export"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--include-uncertain / --exclude-uncertain" in help_text and "include-uncertain]" in help_text


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
    from monitor.delivery.export import format_table

    with Store(db, readonly=True) as store:
        hits = store.search("ketamine", ClaimFilter())
    assert all(
        len(line) <= 60
        for line in format_table(hits, width=60).splitlines()
        if not line.startswith("   http")
    )


def export(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")  # .output would turn CRLF into LF


def test_every_jsonl_line_is_a_claim_and_json_is_one_array(db: Path) -> None:
    rows = [json.loads(line) for line in export(db, "--category", "cost", "--format", "jsonl").splitlines()]
    assert len(rows) == 2 and all(row.keys() == set(EXPORT_FIELDS) and row["claim_id"] for row in rows)
    whole = json.loads(export(db, "--format", "json"))
    assert isinstance(whole, list) and len(whole) == 6  # every claim, uncertain ones too
    assert whole[0]["scores"] and isinstance(whole[0]["scores"], dict)
    assert isinstance(whole[0]["mentions"], list) and isinstance(whole[0]["feed_urls"], list)
    assert json.loads(export(db, "--format", "json", "--category", "cost", "--since", "2099-01-01")) == []


def test_csv_is_rfc_4180_with_nested_values_as_json(db: Path) -> None:
    text = export(db, "--format", "csv")
    assert text.startswith("claim_id,text,") and "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 6 and all(row["claim_id"] for row in rows)
    cost = next(row for row in rows if row["text"].startswith("Spravato"))
    assert json.loads(cost["scores"]) == {"cost": 0.9} and json.loads(cost["mentions"]) == ["ketamine"]
    assert json.loads(cost["amounts"]) == [] and cost["sample_size"] == ""
    with_bom = export(db, "--format", "csv", "--bom")
    assert with_bom.startswith("\ufeffclaim_id,") and with_bom[1:] == text


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_sqlite_utils_inserts_every_exported_row(db: Path, tmp_path: Path, fmt: str) -> None:
    from sqlite_utils.cli import cli as sqlite_utils_cli

    path = tmp_path / f"claims.{fmt}"
    export(db, "--format", fmt, "-o", str(path))
    fresh = tmp_path / "fresh.db"
    option = "--csv" if fmt == "csv" else "--nl"
    result = CliRunner().invoke(
        sqlite_utils_cli, ["insert", str(fresh), "claims", str(path), option, "--pk", "claim_id"]
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(fresh) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 6
        columns = [row[1] for row in conn.execute("PRAGMA table_info(claims)")]
    assert columns == list(EXPORT_FIELDS)


def test_export_streams_in_constant_memory(tmp_path: Path) -> None:
    """Memory stays flat however many claims: ten times the rows, about the same peak.
    (benchmarks/export_memory.py runs the same check on 200,000 claims.)"""
    peaks = {}
    for rows in (500, 5_000):
        path = tmp_path / f"{rows}.db"
        with Store(path) as store:
            fill(store, rows)
        tracemalloc.start()
        written = export_claims(path, "jsonl", _Discard())
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert written == rows
    # Holding the rows would cost megabytes (about 1 kB a claim); the 100 kB of slack absorbs
    # what other threads of a test worker allocate while tracemalloc is on.
    assert peaks[5_000] < 1.5 * peaks[500] + 100_000, peaks


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


def test_a_very_common_word_is_ranked_among_its_shortest_matches_without_losing_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.storage.store

    monkeypatch.setattr(monitor.storage.store, "EXACT_UP_TO", 3)
    monkeypatch.setattr(monitor.storage.store, "SHORT_POOL", 2)
    monkeypatch.setattr(monitor.storage.store, "MAX_POOL", 16)
    path = tmp_path / "common.db"
    with Store(path) as store:
        # The oldest claim is the best BM25 match (the shortest); the newest are long.
        put(store, 1, "Infusion helped.", "efficacy")
        for n in range(2, 7):
            put(store, n, f"Patient {n} was given a weekly infusion for {'a long ' * n}month, then stopped.")
        put(
            store,
            7,
            "A weekly infusion for the longest of months " + "and more " * 9 + "stopped.",
            tier="preprint",
        )
        exact = [
            c.text for c in store._scored('"infusion"', "WHERE claims.category != 'none'", [], ClaimFilter())
        ]
        first = [c.text for c in store.search("infusion", ClaimFilter(limit=2))]
        second = [c.text for c in store.search("infusion", ClaimFilter(limit=2, offset=2))]
        everything = [c.text for c in store.search("infusion", ClaimFilter(limit=20))]
        preprints = store.search("infusion", ClaimFilter(evidence_tiers=("preprint",)))  # the longest
        phrase = store.search('"weekly infusion"', ClaimFilter(limit=3))  # phrases: every match scored
        store.db.execute("DELETE FROM claims WHERE text = 'Infusion helped.'")
        after_delete = [c.text for c in store.search("infusion", ClaimFilter(limit=1))]
    assert first == exact[:2] and first[0] == "Infusion helped."  # the oldest, found first
    assert second == exact[2:4] and everything == exact and len(everything) == 7
    assert [c.text for c in preprints] == [exact[-1]]  # outside the pool of 2: the pool widens
    assert [c.text for c in phrase] == exact[1:4]
    assert after_delete == [exact[1]]  # the short-first index follows deletions
