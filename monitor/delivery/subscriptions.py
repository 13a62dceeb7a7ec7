"""Subscriptions: each reader gets the claims they follow, at their rhythm, and each claim once.

As PubMed's and Europe PMC's alerts do it: a subscription is a saved search (categories, search
words, evidence tiers, minimum confidence) with recipients and a cadence. `weekly` and `daily`
messages go out on a schedule (`monitor run`); `immediate` ones after each pass that stored a
matching claim, one message per subscription. What is new is decided per reader, from the
database's record of what was sent (storage.subscriptions), so a restart, a retried send or a
correction never sends a claim twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

from monitor.config import Settings
from monitor.delivery.digest import arrange, parse_digest_at, send_message, week_of, zone
from monitor.errors import ConfigError, MonitorError
from monitor.records import CATEGORIES, EVIDENCE_TIERS, Digest, StoredClaim, Subscription
from monitor.storage.lock import SendLock
from monitor.storage.store import Store

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

DAILY_AT = "08:00"  # a daily subscription's default time, in the configured timezone


@dataclass(frozen=True)
class Outcome:
    """What one subscription's send did: a line for the log, and whether it failed."""

    line: str
    failed: bool = False


def find(subscriptions: Sequence[Subscription], name: str) -> Subscription:
    for subscription in subscriptions:
        if subscription.name == name:
            return subscription
    known = ", ".join(s.name for s in subscriptions) or "none"
    raise ConfigError(f"no subscription named {name!r} in the config (configured: {known})")


def register(db_path: Path, subscriptions: Sequence[Subscription], now: datetime | None = None) -> None:
    """Start the clock for subscriptions and recipients not seen before: from now on, claims
    are new to them (a reader added today does not receive the archive)."""
    if subscriptions:
        with Store(db_path) as store:
            store.register_subscriptions(subscriptions, _iso(now))


def terms(subscription: Subscription) -> str:
    """What the subscription follows, in words."""
    parts = [
        ", ".join(subscription.categories) if subscription.categories != CATEGORIES else "every category"
    ]
    if subscription.query:
        parts.append(f"matching {subscription.query}")
    if subscription.evidence_tiers:
        tiers = [t for t in EVIDENCE_TIERS if t in subscription.evidence_tiers]
        parts.append(f"from {' or '.join(tiers)} sources")
    if subscription.min_confidence is not None:
        parts.append(f"confidence at least {subscription.min_confidence:.0%}")
    when = {"immediate": "sent after each pass", "daily": "sent daily", "weekly": "sent weekly"}
    return "; ".join(parts) + f"; {when[subscription.cadence]}"


def build(
    store: Store,
    subscription: Subscription,
    claims: Sequence[StoredClaim],
    since: datetime,
    settings: Settings,
    now: datetime | None = None,
) -> Digest:
    """The message for these claims, laid out as the digest is (near-duplicates folded,
    unsure claims under "needs review"), with sections for the subscription's categories."""
    sections, review = arrange(store, claims, settings.review_claims_below)
    shown = subscription.categories
    return Digest(
        week=week_of(None, settings.timezone, now),
        counts={c: (sum(1 for claim in claims if claim.category == c), 0) for c in shown},
        history=(),
        sections={c: sections[c] for c in shown},
        needs_review=review,
        feed_health=(),
        base_url=settings.base_url,
        subscription=subscription.name,
        cadence=subscription.cadence,
        since=since,
        categories=shown,
        terms=terms(subscription),
    )


def unsubscribe_address(subscription: Subscription, settings: Settings) -> str:
    """The List-Unsubscribe target, naming the subscription: list_unsubscribe from the config
    (a mailto: address gets the name in its subject, an https: one as ?subscription=), else
    a mail to the sender."""
    base = (
        settings.list_unsubscribe
        or f"mailto:{parseaddr(settings.smtp_from or '')[1] or 'postmaster@localhost'}"
    )
    if base.lower().startswith("mailto:"):
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}subject={quote(f'unsubscribe {subscription.name}')}"
    joiner = "&" if urlsplit(base).query else "?"
    return f"{base}{joiner}{urlencode({'subscription': subscription.name})}"


def send(
    db_path: Path,
    settings: Settings,
    subscription: Subscription,
    *,
    now: datetime | None = None,
    scheduled: bool = True,
) -> Outcome:
    """Send what is new to each recipient: one message per group of recipients with the same
    new claims (usually one). Records a message only once the server accepted it; a failure is
    recorded on the subscription and raised as the SmtpError it is."""
    from monitor.delivery.render import build_message

    if not settings.smtp_from:
        raise ConfigError("no sender: set smtp_from in the config or MONITOR_SMTP_FROM")
    moment = now or datetime.now(UTC)
    with SendLock(db_path), Store(db_path) as store:
        store.register_subscriptions([subscription], _iso(moment))
        state = store.subscription_states()[subscription.name]
        if state.paused and scheduled:
            return Outcome(f"{subscription.name}: paused since {state.paused}, nothing sent")
        # Readers with the same new claims share a message (usually all of them).
        groups: dict[tuple[str, ...], tuple[list[StoredClaim], list[str]]] = {}
        for address in subscription.to:
            claims = store.pending_claims(subscription, address)
            groups.setdefault(tuple(c.claim_id for c in claims), (claims, []))[1].append(address)
        lines = []
        for key, (claims, recipients) in groups.items():
            if not claims and (subscription.cadence == "immediate" or not subscription.send_empty):
                lines.append(f"nothing new for {', '.join(recipients)}")
                continue
            since = min(datetime.fromisoformat(state.recipients[a.lower()]) for a in recipients)
            digest = build(store, subscription, claims, since, settings, moment)
            message = build_message(
                digest, settings.smtp_from, recipients, unsubscribe_address(subscription, settings), moment
            )
            try:
                send_message(message, settings)
            except MonitorError as exc:
                store.record_subscription_error(subscription.name, str(exc), _iso(moment))
                raise
            store.record_subscription_sent(
                subscription.name, recipients, key, str(message["Message-ID"]), _iso(moment)
            )
            lines.append(
                f"sent {len(claims)} claim{'' if len(claims) == 1 else 's'} to {', '.join(recipients)}"
            )
    return Outcome(f"{subscription.name}: {'; '.join(lines)}")


def after_pass(db_path: Path, settings: Settings, subscriptions: Sequence[Subscription]) -> list[Outcome]:
    """The immediate subscriptions' messages, after a pass. A failure to send never fails the
    pass: it is reported, recorded, and the same claims go out after the next pass."""
    outcomes = []
    for subscription in subscriptions:
        if subscription.cadence != "immediate":
            continue
        try:
            outcomes.append(send(db_path, settings, subscription))
        except MonitorError as exc:
            line = f"{subscription.name}: not sent ({exc}); tried again after the next pass"
            outcomes.append(Outcome(line, failed=True))
    return outcomes


def preview(db_path: Path, settings: Settings, subscription: Subscription) -> Digest:
    """What the subscription would send its first recipient now (nothing is recorded)."""
    with Store(db_path) as store:
        store.register_subscriptions([subscription], _iso())
        address = subscription.to[0]
        since = store.subscription_states()[subscription.name].recipients[address.lower()]
        claims = store.pending_claims(subscription, address)
        return build(store, subscription, claims, datetime.fromisoformat(since), settings)


def trigger(subscription: Subscription, settings: Settings) -> CronTrigger | None:
    """When a weekly or daily subscription is sent; None for immediate ones."""
    if subscription.cadence == "weekly":
        return parse_digest_at(subscription.at or settings.digest_at, settings.timezone)
    if subscription.cadence == "daily":
        from apscheduler.triggers.cron import CronTrigger

        hour, minute = (subscription.at or DAILY_AT).split(":")
        return CronTrigger(hour=int(hour), minute=int(minute), timezone=zone(settings.timezone))
    return None


def overview(
    db_path: Path, settings: Settings, subscriptions: Sequence[Subscription], now: datetime | None = None
) -> list[dict[str, object]]:
    """Each subscription with its terms, state, next send and how many claims wait for it.
    Reads only (it works beside `monitor run`); a subscription no pass has seen yet has no
    state and nothing waiting."""
    moment = now or datetime.now(UTC)
    if not subscriptions:
        return []
    store = Store(db_path, readonly=True) if db_path.exists() else None
    try:
        states = store.subscription_states() if store else {}
        rows = []
        for subscription in subscriptions:
            state = states.get(subscription.name)
            cron = trigger(subscription, settings)
            when = cron.get_next_fire_time(None, moment) if cron else None
            paused = state.paused if state else None
            waiting = {a: store.count_pending(subscription, a) if store else 0 for a in subscription.to}
            rows.append(
                {
                    "name": subscription.name,
                    "cadence": subscription.cadence,
                    "to": list(subscription.to),
                    "categories": list(subscription.categories),
                    "query": subscription.query,
                    "evidence_tiers": list(subscription.evidence_tiers),
                    "min_confidence": subscription.min_confidence,
                    "terms": terms(subscription),
                    "started": min(state.recipients.values()) if state and state.recipients else None,
                    "paused": paused,
                    "last_sent": state.last_sent if state else None,
                    "last_error": state.last_error if state else None,
                    "next_send": None if paused else (_iso(when) if when else "after each pass"),
                    "waiting": waiting,
                }
            )
        return rows
    finally:
        if store:
            store.close()


def set_paused(db_path: Path, subscriptions: Sequence[Subscription], name: str, paused: bool) -> str:
    subscription = find(subscriptions, name)
    with Store(db_path) as store:
        store.register_subscriptions([subscription], _iso())
        if paused:
            changed = store.pause_subscription(name, _iso())
            return f"paused {name}" if changed else f"{name} was already paused"
        changed = store.resume_subscription(name, _iso())
        return (
            f"resumed {name}: claims stored from now on will be sent" if changed else f"{name} was not paused"
        )


def _iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def format_overview(rows: Sequence[dict[str, object]]) -> str:
    if not rows:
        return "no subscriptions: add [[subscription]] tables to config.toml (see the README)"
    lines = []
    for row in rows:
        waiting = row["waiting"]
        assert isinstance(waiting, dict)
        state = f"paused since {row['paused']}" if row["paused"] else f"next send: {row['next_send']}"
        lines += [
            f"{row['name']} ({row['cadence']}) to {', '.join(row['to'])}",  # type: ignore[arg-type]
            f"  follows: {row['terms']}",
            f"  {state}; last sent: {row['last_sent'] or 'never'}; waiting: "
            + ", ".join(f"{n} for {a}" for a, n in waiting.items()),
        ]
        if row["last_error"]:
            lines.append(f"  last send failed: {row['last_error']}")
    return "\n".join(lines)
