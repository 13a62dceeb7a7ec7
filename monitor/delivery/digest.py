"""The weekly digest: which claims it carries and in what order, and its delivery.

A week is an ISO week (Monday to Sunday) in the configured timezone. A claim belongs to
the week in which it was first stored, so each claim reaches editors exactly once.
The same claim reported by several outlets appears once, with "also reported by".
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config import Settings
from monitor.errors import ConfigError, MonitorError
from monitor.records import CATEGORIES, EVIDENCE_TIERS, Digest, DigestItem, StoredClaim, Week
from monitor.storage.store import Store

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

HISTORY_WEEKS = 8

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY_TIME = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\w*\s+(\d{1,2}):(\d{2})$", re.IGNORECASE)
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were "
    "with after said says study new".split()
)
NEAR_DUPLICATE = 0.5  # share of content words two sentences must have in common


class SmtpError(MonitorError):
    """The digest could not be delivered. Never carries the password."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"mail server {host}: {reason}")
        self.host = host
        self.reason = reason


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {name!r} (use an IANA name such as Europe/London)") from None


def week_of(label: str | None, timezone: str, now: datetime | None = None) -> Week:
    """The ISO week named by label ("2026-W47"), else the last complete week before now."""
    tz = zone(timezone)
    if label is None:
        today = (now or datetime.now(UTC)).astimezone(tz).date()
        monday = today - timedelta(days=today.weekday() + 7)
    else:
        match = _WEEK.match(label)
        if not match:
            raise ConfigError(f"week must look like 2026-W47, not {label!r}")
        try:
            monday = datetime.fromisocalendar(int(match[1]), int(match[2]), 1).date()
        except ValueError as exc:
            raise ConfigError(f"no such week {label!r}: {exc}") from None
    start = datetime.combine(monday, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=tz)
    year, number, _ = monday.isocalendar()
    return Week(f"{year}-W{number:02d}", start.astimezone(UTC), end.astimezone(UTC), timezone)


def parse_digest_at(text: str, timezone: str) -> CronTrigger:
    """ "mon 08:00", a crontab line "0 8 * * mon", or one with seconds first "0 0 8 * * mon"."""
    from apscheduler.triggers.cron import CronTrigger  # only the service and `subscriptions list`

    tz = zone(timezone)
    day_time = _DAY_TIME.match(text.strip())
    try:
        if day_time:
            day, hour, minute = day_time.groups()
            return CronTrigger(day_of_week=day.lower()[:3], hour=int(hour), minute=int(minute), timezone=tz)
        fields = text.split()
        if len(fields) == 5:
            return CronTrigger.from_crontab(text, timezone=tz)
        if len(fields) == 6:
            second, minute, hour, day, month, dow = fields
            return CronTrigger(
                second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=tz
            )
    except ValueError as exc:
        raise ConfigError(f"cannot read digest time {text!r}: {exc}") from None
    raise ConfigError(f"digest time must look like 'mon 08:00' or a crontab line, not {text!r}")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def needs_review(claim: StoredClaim, review_below: float) -> bool:
    """Shown apart rather than in its category's section: the classifier was unsure of the
    category, or the detector only just called the sentence a claim. A person's correction
    settles both."""
    if claim.corrected:
        return False
    return claim.uncertain or claim.claim_score < review_below


def build_digest(
    store: Store, week: Week, base_url: str | None = None, review_below: float = Settings.review_claims_below
) -> Digest:
    claims = store.claims_stored_between(_iso(week.start), _iso(week.end))
    sections, review = arrange(store, claims, review_below)
    history = []
    for back in range(HISTORY_WEEKS - 1, -1, -1):
        start, end = week.start - timedelta(weeks=back), week.end - timedelta(weeks=back)
        label = week_of(None, week.timezone, end).label if back else week.label
        history.append((label, store.category_counts(_iso(start), _iso(end))))
    this, previous = history[-1][1], history[-2][1]
    return Digest(
        week=week,
        counts={c: (this.get(c, 0), previous.get(c, 0)) for c in CATEGORIES},
        history=tuple(history),
        sections=sections,
        needs_review=review,
        feed_health=tuple(store.feed_health(_iso(week.start), _iso(week.end))),
        base_url=base_url,
        full_text=tuple(store.page_counts_by_feed_title(_iso(week.start), _iso(week.end))),
    )


def arrange(
    store: Store, claims: Sequence[StoredClaim], review_below: float
) -> tuple[dict[str, tuple[DigestItem, ...]], tuple[DigestItem, ...]]:
    """Claims as the digest shows them: near-duplicates folded into one item, a paper's own
    claims with the stories that covered it, each item in its category's section (strongest
    first, one study's claims together) or, when the models were unsure, in "needs review"."""
    covered = store.coverage(c.article_id for c in claims if c.study_article_id == c.article_id)
    sections: dict[str, list[DigestItem]] = {c: [] for c in CATEGORIES}
    review: list[DigestItem] = []
    for group in group_near_duplicates(claims):
        first = group[0]
        item = DigestItem(
            first,
            tuple((c.source, c.article_url) for c in group[1:]),
            tuple(covered.get(first.article_id, ())) if first.study_article_id == first.article_id else (),
        )
        (review if needs_review(first, review_below) else sections[first.category]).append(item)
    return (
        {c: _by_study(sorted(items, key=_strength)) for c, items in sections.items()},
        tuple(sorted(review, key=_strength)),
    )


def _by_study(items: list[DigestItem]) -> tuple[DigestItem, ...]:
    """Strongest first, but the claims of one study (the paper's own and its coverage's, from
    every outlet) together, where the strongest of them stands."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        key = item.claim.study_article_id or item.claim.study_doi or f"claim:{item.claim.claim_id}"
        groups.setdefault(key, []).append(item)
    return tuple(item for group in groups.values() for item in group)


def _strength(item: DigestItem) -> tuple[int, int, float]:
    tier = item.claim.evidence_tier or "news"
    # EVIDENCE_TIERS runs strongest first; within a tier, more widely reported, then more confident.
    rank = EVIDENCE_TIERS.index(tier) if tier in EVIDENCE_TIERS else len(EVIDENCE_TIERS)
    return (rank, -len(item.also_reported_by), -item.claim.confidence)


def _content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS)


def group_near_duplicates(claims: Sequence[StoredClaim]) -> list[list[StoredClaim]]:
    """Claims of different articles saying nearly the same thing, strongest source first."""
    words = [_content_words(c.text) for c in claims]
    parent = list(range(len(claims)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(claims)):
        for j in range(i + 1, len(claims)):
            if claims[i].article_id == claims[j].article_id or not words[i] or not words[j]:
                continue
            overlap = len(words[i] & words[j]) / len(words[i] | words[j])
            if overlap >= NEAR_DUPLICATE:
                parent[root(j)] = root(i)
    groups: dict[int, list[StoredClaim]] = {}
    for i, claim in enumerate(claims):
        groups.setdefault(root(i), []).append(claim)
    return [sorted(group, key=lambda c: _strength(DigestItem(c))) for group in groups.values()]


# -- delivery ------------------------------------------------------------------------


def recipients_key(recipients: Sequence[str]) -> str:
    return ", ".join(sorted({r.strip().lower() for r in recipients if r.strip()}))


def send_message(message: EmailMessage, settings: Settings) -> None:
    """Hand the message to the SMTP server; any refusal becomes an SmtpError."""
    host, port = settings.smtp_host, settings.smtp_port
    if not host:
        raise ConfigError("no mail server: set smtp_host in the config or MONITOR_SMTP_HOST")
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpError(host, f"login refused for {settings.smtp_user} ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SmtpError(host, f"recipients refused: {', '.join(sorted(exc.recipients))}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpError(host, f'{exc} (set smtp_security = "none" for a server without TLS)') from None
    except smtplib.SMTPResponseException as exc:
        raise SmtpError(host, f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise SmtpError(host, f"{type(exc).__name__}: {exc}") from None
    if refused:
        raise SmtpError(host, f"recipients refused: {', '.join(sorted(refused))}")


def make_digest(db_path: Path, settings: Settings, week_label: str | None = None) -> Digest:
    week = week_of(week_label, settings.timezone)
    with Store(db_path, readonly=True) as store:
        return build_digest(store, week, settings.base_url, settings.review_claims_below)


def write_digest(
    digest: Digest,
    settings: Settings,
    output: Path | None,
    recipients: Sequence[str],
    unsubscribe: str | None = None,
) -> str:
    """Write the digest to a file (.html, or .eml for the whole message) or return its text.
    `unsubscribe`: the List-Unsubscribe target, when not the configured one (a subscription's)."""
    from monitor.delivery.render import build_message, render_html, render_text

    if output is None:
        return render_text(digest)
    if output.suffix.lower() == ".eml":
        sender = settings.smtp_from or "ketamine-monitor@localhost"
        target = unsubscribe or settings.list_unsubscribe
        message = build_message(digest, sender, recipients or ["editor@localhost"], target)
        output.write_bytes(message.as_bytes())
    elif output.suffix.lower() in (".html", ".htm"):
        output.write_text(render_html(digest), encoding="utf-8")
    else:
        output.write_text(render_text(digest), encoding="utf-8")
    return f"wrote {output}"


def deliver(
    digest: Digest, settings: Settings, db_path: Path, recipients: Sequence[str], force: bool = False
) -> str:
    """Send the digest unless this week already went to these recipients; record the send
    only once the server has accepted it, so a failed send can simply be retried."""
    from monitor.delivery.render import build_message

    if not recipients:
        raise ConfigError("no recipients: pass --to ADDRESS or set digest_to in the config")
    if not settings.smtp_from:
        raise ConfigError("no sender: set smtp_from in the config or MONITOR_SMTP_FROM")
    key = recipients_key(recipients)
    with Store(db_path) as store:
        sent_at = store.digest_sent(digest.week.label, key)
        if sent_at and not force:
            raise MonitorError(
                f"the digest for {digest.week.label} was already sent to {key} at {sent_at}; "
                "use --force to send it again"
            )
        message = build_message(digest, settings.smtp_from, list(recipients), settings.list_unsubscribe)
        send_message(message, settings)
        store.record_digest(digest.week.label, key, str(message["Message-ID"]), digest.total)
    return f"sent {digest.week.label} ({digest.total} claims) to {key}"
