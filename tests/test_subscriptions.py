"""Subscriptions end to end: real passes over a feed served on 127.0.0.1, mail through a real
SMTP server on 127.0.0.1 (aiosmtpd), each `monitor` command a fresh start from the config."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from monitor.cli import cli
from monitor.config import load_subscriptions
from monitor.errors import ConfigError
from monitor.records import CATEGORIES
from tests.conftest import EXAMPLES
from tests.test_digest import Inbox, free_port

SUBSCRIPTIONS = """
[[subscription]]
name = "safety-now"
to = "safety-desk@example.org"
categories = ["safety"]
cadence = "immediate"

[[subscription]]
name = "cost-weekly"
to = ["economist@example.org"]
categories = ["cost"]
"""


@pytest.fixture
def inbox() -> tuple[Inbox, int]:
    from aiosmtpd.controller import Controller

    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def configure(home: Path, smtp_port: int, subscriptions: str = SUBSCRIPTIONS) -> None:
    (home / "config.toml").write_text(
        '[monitor]\nhost_delay = 0\nfull_text = "never"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {smtp_port}\nsmtp_security = "none"\n'
        'smtp_from = "Ketamine Monitor <monitor@example.org>"\n'
        'list_unsubscribe = "mailto:unsubscribe@example.org"\n' + subscriptions
    )


@pytest.fixture
def setup(tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home = Path(tmp_path / "home")
    home.mkdir()
    monkeypatch.setenv("MONITOR_HOME", str(home))
    httpserver.expect_request("/news.xml").respond_with_data(
        (EXAMPLES / "news.xml").read_bytes(), content_type="application/rss+xml"
    )
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(httpserver.url_for("/news.xml") + "\n")
    return {"home": home, "feeds": feeds, "db": tmp_path / "claims.db"}


def monitor(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def stored(db: Path, category: str) -> list[str]:
    out = monitor("export", "--db", str(db), "--category", category, "--format", "jsonl").output
    return [json.loads(line)["text"] for line in out.splitlines() if line.startswith("{")]


def listed_claims(text: str, claims: list[str]) -> list[str]:
    """Those of claims that the message lists as claims ("3. <sentence>"), not merely mentions
    (a headline claim is also the title under the story's other claims)."""
    return [c for c in claims if re.search(r"\d+\. (\[\w+\?\] )?" + re.escape(" ".join(c.split())), text)]


def body(message: EmailMessage) -> str:
    """The plain-text part with its wrapping undone."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def test_immediate_and_weekly_subscriptions_send_each_claim_once(
    setup: dict[str, Path], inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    configure(setup["home"], port)
    db, feeds = str(setup["db"]), str(setup["feeds"])

    first = monitor("once", "--feeds", feeds, "--db", db)
    assert first.exit_code == 0, first.output
    safety, cost = stored(setup["db"], "safety"), stored(setup["db"], "cost")
    others = [t for c in CATEGORIES if c != "safety" for t in stored(setup["db"], c)]
    assert safety and cost and others

    # Exactly one immediate message, to the safety desk only, with every safety claim and nothing else.
    assert len(box.messages) == 1
    alert = box.messages[0]
    assert box.envelopes[0].rcpt_tos == ["safety-desk@example.org"]
    text = body(alert)
    assert listed_claims(text, safety) == safety
    assert listed_claims(text, others) == []
    assert alert["Subject"] == f"[safety-now] Ketamine claims alert: {len(safety)} new ({len(safety)} safety)"
    assert (
        alert["List-Unsubscribe"].strip()
        == "<mailto:unsubscribe@example.org?subject=unsubscribe%20safety-now>"
    )
    assert "safety-now" in alert["List-Id"]
    html = alert.get_body(preferencelist=("html",)).get_content()
    assert "<script" not in html and "Feed health" not in html

    # A second pass, a fresh process, nothing new: nothing is sent.
    second = monitor("once", "--feeds", feeds, "--db", db)
    assert second.exit_code == 0 and "nothing new" in second.output
    assert len(box.messages) == 1

    # The weekly subscription, sent by hand as the schedule would: only cost claims, all of them.
    weekly = monitor("digest", "--subscription", "cost-weekly", "--send", "--db", db)
    assert weekly.exit_code == 0, weekly.output
    assert len(box.messages) == 2 and box.envelopes[1].rcpt_tos == ["economist@example.org"]
    text = body(box.messages[1])
    non_cost = [t for c in CATEGORIES if c != "cost" for t in stored(setup["db"], c)]
    assert listed_claims(text, cost) == cost
    assert listed_claims(text, non_cost) == []

    # Started again: neither subscription has anything new for its reader.
    assert "nothing new" in monitor("digest", "--subscription", "cost-weekly", "--send", "--db", db).output
    monitor("once", "--feeds", feeds, "--db", db)
    assert len(box.messages) == 2

    listed = json.loads(monitor("subscriptions", "list", "--db", db, "--json").output)
    assert [(r["name"], r["waiting"]) for r in listed] == [
        ("safety-now", {"safety-desk@example.org": 0}),
        ("cost-weekly", {"economist@example.org": 0}),
    ]
    assert listed[0]["next_send"] == "after each pass" and listed[1]["last_sent"]
    status = json.loads(monitor("status", "--db", db, "--feeds", feeds, "--json").output)
    assert [s["name"] for s in status["subscriptions"]] == ["safety-now", "cost-weekly"]


def test_a_failed_alert_never_fails_the_pass_and_goes_out_after_the_next(
    setup: dict[str, Path], inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    configure(setup["home"], free_port())  # nobody listens there
    db, feeds = str(setup["db"]), str(setup["feeds"])
    failed = monitor("once", "--feeds", feeds, "--db", db)
    assert failed.exit_code == 0 and "safety-now: not sent" in failed.output
    listed = json.loads(monitor("subscriptions", "list", "--db", db, "--json").output)
    assert (
        "mail server 127.0.0.1" in listed[0]["last_error"] and listed[0]["waiting"]["safety-desk@example.org"]
    )

    configure(setup["home"], port)
    monitor("once", "--feeds", feeds, "--db", db)
    assert len(box.messages) == 1
    safety = stored(setup["db"], "safety")
    assert listed_claims(body(box.messages[0]), safety) == safety
    listed = json.loads(monitor("subscriptions", "list", "--db", db, "--json").output)
    assert listed[0]["last_error"] is None


def test_a_paused_subscription_sends_nothing_and_resumes_from_then_on(
    setup: dict[str, Path], inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    configure(setup["home"], port)
    db, feeds = str(setup["db"]), str(setup["feeds"])
    assert monitor("subscriptions", "pause", "safety-now", "--db", db).output.startswith("paused")
    monitor("once", "--feeds", feeds, "--db", db)
    assert box.messages == []
    assert "resumed" in monitor("subscriptions", "resume", "safety-now", "--db", db).output
    monitor("once", "--feeds", feeds, "--db", db)
    assert box.messages == []  # what arrived while it was paused is not sent afterwards
    unknown = monitor("subscriptions", "pause", "nope", "--db", db)
    assert unknown.exit_code == 1 and "no subscription named 'nope'" in unknown.output


def test_a_subscription_with_a_search_and_a_preview(setup: dict[str, Path], inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    configure(
        setup["home"],
        port,
        '[[subscription]]\nname = "bladder"\nto = "uro@example.org"\nquery = "bladder"\ncadence = "daily"\n',
    )
    db, feeds = str(setup["db"]), str(setup["feeds"])
    monitor("once", "--feeds", feeds, "--db", db)
    assert box.messages == []  # daily: not after a pass
    preview = monitor("digest", "--subscription", "bladder", "--db", db).output
    matches = monitor("search", "bladder", "--db", db, "--format", "jsonl", "--limit", "100").output
    texts = [json.loads(line)["text"] for line in matches.splitlines()]
    flat = " ".join(preview.split())
    assert texts and listed_claims(flat, texts) == texts
    assert f"{len(texts)} new claim" in flat
    listed = json.loads(monitor("subscriptions", "list", "--db", db, "--json").output)
    assert listed[0]["next_send"].endswith("08:00:00+00:00")
    saved = setup["home"] / "bladder.eml"
    monitor("digest", "--subscription", "bladder", "--db", db, "--output", str(saved))
    headers = saved.read_bytes().decode("utf-8")
    assert "subject=unsubscribe%20bladder" in headers and "List-Id: bladder" in headers


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('name = "a b"\nto = "x@example.org"', "name must be letters"),
        ('name = "a"\nto = "not an address"', "to must be one or more email addresses"),
        ('name = "a"\nto = "x@example.org"\ncadence = "hourly"', "cadence must be one of"),
        ('name = "a"\nto = "x@example.org"\ncategories = ["price"]', "categories must be among"),
        ('name = "a"\nto = "x@example.org"\nfrequency = "weekly"', "unknown key 'frequency'"),
        ('name = "a"\nto = "x@example.org"\ncadence = "daily"\nat = "7pm"', "looks like 07:30"),
    ],
)
def test_config_mistakes_are_one_clear_line(tmp_path: Path, table: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[[subscription]]\n{table}\n")
    with pytest.raises(ConfigError, match=problem):
        load_subscriptions(path)


def test_the_readme_subscriptions_parse() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- subscriptions -->")[1].split("```toml")[1].split("```")[0]
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "config.toml"
    path.write_text(block)
    found = load_subscriptions(path)
    assert [s.cadence for s in found] == ["immediate", "weekly", "daily"]
    assert found[0].evidence_tiers == ("regulator", "peer-reviewed") and found[0].categories == ("safety",)


def test_corrections_are_not_news_and_empty_weeks_are_sent_only_when_asked(
    setup: dict[str, Path], inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    configure(setup["home"], port, SUBSCRIPTIONS + "send_empty = true\n")
    db, feeds = str(setup["db"]), str(setup["feeds"])
    monitor("once", "--feeds", feeds, "--db", db)
    assert len(box.messages) == 1
    claims = [
        json.loads(line) for line in monitor("export", "--db", db, "--category", "safety").output.splitlines()
    ]
    sent = claims[0]["claim_id"]
    assert monitor("label", sent, "efficacy", "--db", db).exit_code == 0
    assert monitor("label", sent, "safety", "--db", db).exit_code == 0
    monitor("once", "--feeds", feeds, "--db", db)
    assert len(box.messages) == 1  # a corrected claim that was sent is not sent again

    assert "sent" in monitor("digest", "--subscription", "cost-weekly", "--send", "--db", db).output
    empty = monitor("digest", "--subscription", "cost-weekly", "--send", "--db", db)
    assert "sent 0 claims" in empty.output and len(box.messages) == 3  # send_empty = true
    assert "0 new claims" in body(box.messages[2]) and "No new cost claims." in body(box.messages[2])
