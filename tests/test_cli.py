"""End to end through the `monitor` command, with feeds served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import cli
from tests.conftest import EXAMPLES, ROOT

EXPORT_FIELDS = {
    "claim_id", "text", "category", "confidence", "article_title", "article_url",
    "source", "published", "feed_url", "model_version",
}  # fmt: skip


@pytest.fixture
def served_feeds(httpserver: HTTPServer, tmp_path: Path) -> Path:
    """feeds.txt listing RSS 1.0, RSS 2.0 and Atom feeds, a 500 and an HTML page."""
    types = {
        "preprints.rdf": "application/rdf+xml",
        "news.xml": "application/rss+xml",
        "press.atom": "application/atom+xml",
    }
    for name, content_type in types.items():
        httpserver.expect_request(f"/{name}").respond_with_data(
            (EXAMPLES / name).read_bytes(), content_type=content_type
        )
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    httpserver.expect_request("/page").respond_with_data(
        "<!doctype html><html><body><p>Moved to our new site</p></body></html>", content_type="text/html"
    )
    feeds = tmp_path / "feeds.txt"
    urls = [httpserver.url_for(p) for p in ("/preprints.rdf", "/news.xml", "/press.atom", "/broken", "/page")]
    feeds.write_text("# test feeds\n" + "\n".join(urls) + "\n")
    return feeds


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_once_ingests_all_formats_survives_bad_feeds_and_adds_nothing_twice(
    served_feeds: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "m.db")
    first = run("once", "--feeds", str(served_feeds), "--db", db)
    assert first.exit_code == 0, first.output
    assert "feeds: 3 ok, 2 failed" in first.output
    assert re.search(r"failed http://\S+/broken: HTTP 500", first.output)
    assert re.search(r"failed http://\S+/page: an HTML page, not a feed", first.output)
    assert "new articles: 15" in first.output  # 16 items, one story in two feeds
    counts = re.search(
        r"new claims: (\d+) \(efficacy (\d+), safety (\d+), duration (\d+), cost (\d+)\)", first.output
    )
    assert counts and int(counts[1]) > 20 and all(int(n) > 0 for n in counts.groups()[1:])

    second = run("once", "--feeds", str(served_feeds), "--db", db)
    assert second.exit_code == 0
    assert "new articles: 0" in second.output and "new claims: 0 " in second.output

    exported = run("export", "--db", db, "--format", "jsonl")
    rows = [json.loads(line) for line in exported.output.splitlines()]
    assert len(rows) == int(counts[1]) == int(run("export", "--db", db, "--count").output)
    assert all(row.keys() >= EXPORT_FIELDS for row in rows)
    formats = {row["feed_url"].rsplit("/", 1)[1] for row in rows}
    assert formats == {"preprints.rdf", "news.xml", "press.atom"}
    shared = [r for r in rows if len(r["feed_urls"]) == 2]
    assert shared and all("patient-story" in r["article_url"] for r in shared)


def test_once_fails_only_when_no_feed_can_be_read(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/down").respond_with_data("", status=503)
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(httpserver.url_for("/down") + "\n")
    result = CliRunner().invoke(cli, ["once", "--feeds", str(feeds), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "Error: no feed could be read" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["once", "--feeds", "/nonexistent/feeds.txt"],
            "Error: feeds file not found: /nonexistent/feeds.txt",
        ),
        (["export", "--db", "/nonexistent/m.db"], "Error: database /nonexistent/m.db: no such database"),
        (["search", "ketamine", "--db", "/nonexistent/m.db"], "no such database"),
    ],
)
def test_expected_failures_are_one_line_messages(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_search_is_safe_for_any_input_and_exports_formats(served_feeds: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    run("once", "--feeds", str(served_feeds), "--db", db)
    table = run("search", "relapse", "--db", db)
    assert table.exit_code == 0 and "[relapse]" in table.output.lower()
    for query in ["treatment-resistant", "p < .05", '"nasal spray', "AND OR (", "“bladder”", "dissociat*"]:
        result = run("search", query, "--db", db, "--format", "json")
        assert result.exit_code == 0, (query, result.output)
        assert isinstance(json.loads(result.output), list)
    empty = CliRunner().invoke(cli, ["search", "()", "--db", db, "--format", "json"])
    assert empty.exit_code == 0 and len(json.loads(empty.output)) == 20  # no words: filters only
    safety = json.loads(
        run("search", "ketamine", "--db", db, "--category", "safety", "--format", "json").output
    )
    assert safety and {r["category"] for r in safety} == {"safety"}
    rows = list(csv.DictReader(io.StringIO(run("export", "--db", db, "--format", "csv").output)))
    assert rows and set(rows[0]) >= EXPORT_FIELDS


def test_classify_answers_one_json_line_per_input_line() -> None:
    lines = [
        "Ketamine infusions cost patients about $450 each.",
        "Esketamine caused dissociation in most patients.",
        "",
        "Remission was twice as common with ketamine as with placebo.",
    ]
    result = run("classify", input="\n".join(lines) + "\n")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in records] == [line for line in lines if line]
    assert [r["category"] for r in records] == ["cost", "safety", "efficacy"]
    for r in records:
        assert set(r["scores"]) == {"efficacy", "safety", "duration", "cost"}
        assert r["confidence"] == max(r["scores"].values())
    args = run("classify", "Relapse came three weeks after the last infusion.")
    assert json.loads(args.output)["category"] == "duration"


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize(("name", "command"), all_commands(cli))
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20
    result = run(*name.split(), "--help")
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"monitor {name}" in (ROOT / "README.md").read_text()
