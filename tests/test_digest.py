"""The weekly digest, delivered through a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import Settings
from monitor.delivery.digest import SmtpError, deliver, group_near_duplicates, make_digest, week_of
from monitor.storage.store import Store
from tests.helpers import store_claim

WEEK = "2026-W47"  # Monday 16 to Sunday 22 November 2026
PASSWORD = "s3cret-Pa55word"


class Inbox:
    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(refuse={"nobody@example.org"}), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(port: int, **changes: object) -> Settings:
    base = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="Ketamine Monitor <monitor@example.org>",
        list_unsubscribe="mailto:unsubscribe@example.org",
        timezone="Europe/London",
    )
    return replace(base, **changes)


def add(
    store: Store,
    n: int,
    title: str,
    text: str,
    category: str,
    when: str,
    source: str = "Example News",
    **options: object,
) -> None:
    store_claim(store, n, text, category, title=title, source=source, stored_at=when, **options)


@pytest.fixture
def week_db(tmp_path: Path) -> Path:
    path = tmp_path / "digest.db"
    with Store(path) as store:
        add(
            store,
            1,
            "Ketamine eases depression",
            "Ketamine cut depression scores within 24 hours in the trial.",
            "efficacy",
            "2026-11-17T10:00:00+00:00",
            "The Ledger",
            tier="news",
        )
        add(
            store,
            2,
            "Same trial, other outlet",
            "In the trial, ketamine cut depression scores within 24 hours.",
            "efficacy",
            "2026-11-18T10:00:00+00:00",
            "Wire Service",
            tier="preprint",
        )
        add(
            store,
            3,
            "Clinic prices",
            "Ketamine infusions cost $500 each and insurers rarely pay.",
            "cost",
            "2026-11-19T10:00:00+00:00",
        )
        add(
            store,
            4,
            "<script>alert('x')</script>" + "Long title " * 1000,
            "Ketamine <img src=x onerror=alert(1)> raised blood pressure in 3 patients.",
            "safety",
            "2026-11-20T10:00:00+00:00",
            "Evil <b>Feed</b>\r\nBcc: victim@example.org",
            url="javascript:alert(document.cookie)",
        )
        add(
            store,
            5,
            "Unsure",
            "Ketamine might matter for sleep, one clinic says.",
            "duration",
            "2026-11-21T10:00:00+00:00",
            confidence=0.4,
            uncertain=True,
        )
        add(
            store,
            6,
            "Last week",
            "Ketamine relapse came three weeks after the last infusion.",
            "duration",
            "2026-11-10T10:00:00+00:00",
        )
        add(store, 7, "Next week", "Ketamine costs fell in Ontario.", "cost", "2026-11-23T10:00:00+00:00")
        add(
            store,
            8,
            "Borderline",
            '"Ketamine changed everything for me," she said.',
            "efficacy",
            "2026-11-21T11:00:00+00:00",
            claim_score=0.55,  # only just called a claim: the category is sure, the claim is not
        )
    return path


def test_weeks_follow_the_timezone_across_a_daylight_saving_change() -> None:
    before, after = week_of("2026-W43", "Europe/London"), week_of("2026-W44", "Europe/London")
    assert before.start == datetime(2026, 10, 18, 23, 0, tzinfo=UTC)  # Monday 00:00 BST
    assert before.end == after.start == datetime(2026, 10, 26, 0, 0, tzinfo=UTC)  # Monday 00:00 GMT
    assert (before.end - before.start).total_seconds() == 169 * 3600  # the week with the extra hour
    assert week_of(None, "Europe/London", datetime(2026, 11, 25, 12, tzinfo=UTC)).label == WEEK
    assert week_of(None, "Pacific/Auckland", datetime(2026, 11, 22, 12, 30, tzinfo=UTC)).label == WEEK


def test_digest_groups_orders_and_flags(week_db: Path) -> None:
    digest = make_digest(week_db, mail_settings(25), WEEK)
    (efficacy,) = digest.sections["efficacy"]
    assert efficacy.claim.source == "Wire Service"  # the preprint outranks the news story
    assert efficacy.also_reported_by == (("The Ledger", "https://news.example.org/1"),)
    assert [i.claim.text for i in digest.needs_review] == [
        '"Ketamine changed everything for me," she said.',
        "Ketamine might matter for sleep, one clinic says.",
    ]
    assert digest.counts["efficacy"] == (3, 0) and digest.counts["duration"] == (1, 1)
    assert [label for label, _ in digest.history][-2:] == ["2026-W46", WEEK]
    assert digest.total == 6
    stricter = make_digest(week_db, mail_settings(25, review_claims_below=0.95), WEEK)
    assert len(stricter.needs_review) == 5 and not any(stricter.sections.values())  # 6 claims, 5 items


def test_digest_is_sent_once_with_both_parts_and_safe_content(week_db: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = mail_settings(port)
    digest = make_digest(week_db, settings, WEEK)
    assert deliver(digest, settings, week_db, ["editor@example.org"]).startswith(f"sent {WEEK} (6 claims)")
    (message,) = inbox.messages
    assert (
        message["Subject"]
        == f"Ketamine claims, week {WEEK}: 6 new (3 efficacy, 1 safety, 1 duration, 1 cost)"
    )
    assert (
        message["From"] == "Ketamine Monitor <monitor@example.org>" and message["To"] == "editor@example.org"
    )
    assert message["Message-ID"].endswith("@example.org>") and message["Date"]
    assert message["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"
    assert message["Bcc"] is None and inbox.envelopes[0].rcpt_tos == ["editor@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for sentence in [
        "infusions cost $500 each",
        "raised blood pressure in 3 patients",
        "might matter for sleep",
    ]:
        assert text.count(sentence) == 1
    assert html.count("cut depression scores within 24 hours") == 1  # near-duplicates shown once
    assert "Also reported by" in html and "The Ledger" in html
    assert "<script>" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html
    assert "Long title " * 40 not in html and "\u2026" in html  # a 10,000-character title is cut
    assert "<strong>Ketamine</strong>" in html
    assert "relapse came three weeks" not in html and "costs fell in Ontario" not in html  # other weeks

    with pytest.raises(Exception, match=r"already sent to editor@example\.org"):
        deliver(digest, settings, week_db, ["Editor@Example.org"])
    deliver(digest, settings, week_db, ["editor@example.org"], force=True)
    assert len(inbox.messages) == 2


def test_a_failed_send_is_reported_not_recorded_and_can_be_retried(
    week_db: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    digest = make_digest(week_db, mail_settings(port), WEEK)
    down = mail_settings(free_port())
    with pytest.raises(SmtpError, match=r"mail server 127\.0\.0\.1: ConnectionRefusedError"):
        deliver(digest, down, week_db, ["editor@example.org"])
    with pytest.raises(SmtpError, match=r"recipients refused: nobody@example\.org"):
        deliver(digest, mail_settings(port), week_db, ["nobody@example.org"])
    assert deliver(digest, mail_settings(port), week_db, ["editor@example.org"]).startswith("sent")
    assert len(inbox.messages) == 1


class Refuser:
    async def auth_LOGIN(self, server, args):
        return AuthResult(success=False, handled=False)


def test_refused_login_never_shows_the_password(week_db: Path) -> None:
    port = free_port()

    def authenticator(server, session: Session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        settings = mail_settings(port, smtp_user="monitor", smtp_password=PASSWORD)
        digest = make_digest(week_db, settings, WEEK)
        with pytest.raises(SmtpError) as failure:
            deliver(digest, settings, week_db, ["editor@example.org"])
    finally:
        controller.stop()
    assert "login refused for monitor" in str(failure.value)
    assert PASSWORD not in str(failure.value) and PASSWORD not in repr(settings)


def test_cli_previews_writes_and_sends(
    week_db: Path, smtp: tuple[Inbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    for name, value in {
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(port),
        "MONITOR_SMTP_SECURITY": "none",
        "MONITOR_SMTP_FROM": "monitor@example.org",
        "MONITOR_SMTP_PASSWORD": PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    preview = runner.invoke(cli, ["digest", "--week", WEEK, "--db", str(week_db)])
    assert preview.exit_code == 0 and "== EFFICACY (1) ==" in preview.output
    page = tmp_path / "week.html"
    assert (
        runner.invoke(cli, ["digest", "--week", WEEK, "--db", str(week_db), "--output", str(page)]).exit_code
        == 0
    )
    assert page.read_text().startswith("<!DOCTYPE html>")
    sent = runner.invoke(
        cli, ["digest", "--week", WEEK, "--db", str(week_db), "--send", "--to", "a@example.org"]
    )
    assert sent.exit_code == 0, sent.output
    again = runner.invoke(
        cli, ["digest", "--week", WEEK, "--db", str(week_db), "--send", "--to", "a@example.org"]
    )
    assert again.exit_code == 1 and "already sent" in again.output and "--force" in again.output
    bad = runner.invoke(cli, ["digest", "--week", "2026-47", "--db", str(week_db)])
    assert bad.exit_code == 1 and "week must look like 2026-W47" in bad.output
    assert PASSWORD not in runner.invoke(cli, ["digest", "--help"]).output
    assert len(inbox.messages) == 1


def test_near_duplicates_need_different_articles(week_db: Path) -> None:
    with Store(week_db, readonly=True) as store:
        claims = store.claims_stored_between("2026-11-16", "2026-11-23")
    groups = group_near_duplicates(claims)
    assert sorted(len(g) for g in groups) == [1, 1, 1, 1, 2]


def test_feed_health_lists_feeds_that_failed_all_week_or_brought_nothing(week_db: Path) -> None:
    from monitor.records import FeedSource, FetchResult

    with Store(week_db) as store:
        broken = FetchResult(
            FeedSource("https://down.example/rss"), status=503, error="HTTP 503 Service Unavailable"
        )
        store.record_fetch(broken, None, broken.error)
    digest = make_digest(week_db, mail_settings(25), WEEK)
    problems = {f.url: (f.problem, f.last_error) for f in digest.feed_health}
    assert problems["https://down.example/rss"] == ("failed all week", "HTTP 503 Service Unavailable")
    assert "https://news.example.org/feed" not in problems  # it brought new articles this week
    from monitor.delivery.render import render_html, render_text

    assert "HTTP 503 Service Unavailable" in render_html(digest) and "failed all week" in render_text(digest)
