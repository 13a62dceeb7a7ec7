"""What the database remembers of subscriptions: when each reader started, what each was sent,
and whether a subscription is paused. Part of Store (a mixin), so SQLite stays in storage/.

A claim is new to a reader when it was stored after the reader's start (first seen in the
config, or resumed: the newest claim's rowid then is the mark, which no clock can blur) and no
message to that reader has carried it. The record of a message is
written only after the mail server accepted it, so a failed send is simply tried again.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError
from monitor.records import StoredClaim, Subscription, SubscriptionState
from monitor.storage.claimsql import CLAIM_FROM, CLAIM_SELECT, filter_sql, fts_query

if TYPE_CHECKING:
    import sqlite_utils


# The rowid of the newest claim: a reader starting now is sent only claims stored after it.
NEWEST_CLAIM = "(SELECT COALESCE(max(rowid), 0) FROM claims)"


class SubscriptionRecords:
    """Store's subscription methods; they need its db, _transaction and _claims."""

    db: sqlite_utils.Database

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _claims(self, sql: str, params: list[Any]) -> list[StoredClaim]:
        raise NotImplementedError

    def register_subscriptions(self, subscriptions: Iterable[Subscription], now: str) -> None:
        """Start the clock for subscriptions and recipients seen for the first time."""
        with self._transaction():
            for subscription in subscriptions:
                self.db.execute(
                    "INSERT INTO subscriptions (name, first_seen) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [subscription.name, now],
                )
                for address in subscription.to:
                    self.db.execute(
                        "INSERT INTO subscription_recipients"
                        " (subscription, recipient, since, after_claim)"
                        f" VALUES (?, ?, ?, {NEWEST_CLAIM})"
                        " ON CONFLICT DO NOTHING",
                        [subscription.name, address.lower(), now],
                    )

    def subscription_states(self) -> dict[str, SubscriptionState]:
        recipients: dict[str, dict[str, str]] = {}
        for name, address, since in self.db.execute(
            "SELECT subscription, recipient, since FROM subscription_recipients ORDER BY recipient"
        ):
            recipients.setdefault(name, {})[address] = since
        return {
            name: SubscriptionState(name, paused, last_sent, last_error, recipients.get(name, {}))
            for name, paused, last_sent, last_error in self.db.execute(
                "SELECT name, paused, last_sent, last_error FROM subscriptions ORDER BY name"
            )
        }

    def pending_claims(self, subscription: Subscription, recipient: str) -> list[StoredClaim]:
        """The claims this subscription would send this reader now, oldest first."""
        pending = self._pending_where(subscription, recipient)
        if pending is None:
            return []
        where, params = pending
        return self._claims(f"{CLAIM_SELECT} {where} ORDER BY claims.extracted_at, claims.rowid", params)

    def count_pending(self, subscription: Subscription, recipient: str) -> int:
        """How many claims pending_claims would return, without reading them."""
        pending = self._pending_where(subscription, recipient)
        if pending is None:
            return 0
        where, params = pending
        return int(self.db.execute(f"SELECT count(*) {CLAIM_FROM} {where}", params).fetchone()[0])

    def _pending_where(self, subscription: Subscription, recipient: str) -> tuple[str, list[Any]] | None:
        """The WHERE clause of the claims new to this reader; None for a reader not yet started."""
        row = self.db.execute(
            "SELECT after_claim FROM subscription_recipients WHERE subscription = ? AND recipient = ?",
            [subscription.name, recipient.lower()],
        ).fetchone()
        if row is None:
            return []
        where, params = filter_sql(subscription.filters)
        where += (
            " AND claims.rowid > ? AND NOT EXISTS (SELECT 1 FROM subscription_sent AS sent"
            " WHERE sent.subscription = ? AND sent.recipient = ? AND sent.claim_id = claims.id)"
        )
        params += [row[0], subscription.name, recipient.lower()]
        if subscription.query:
            match = fts_query(subscription.query)
            if match is None:
                raise ConfigError(f"subscription {subscription.name!r}: no words to search for in its query")
            where += " AND claims.rowid IN (SELECT rowid FROM claims_search WHERE claims_search MATCH ?)"
            params.append(match)
        return where, params

    def record_subscription_sent(
        self, name: str, recipients: Iterable[str], claim_ids: Iterable[str], message_id: str, now: str
    ) -> None:
        ids = list(claim_ids)
        with self._transaction():
            for address in recipients:
                self.db.conn.executemany(
                    "INSERT INTO subscription_sent"
                    " (subscription, recipient, claim_id, message_id, sent_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(name, address.lower(), claim_id, message_id, now) for claim_id in ids],
                )
            self.db.execute(
                "UPDATE subscriptions SET last_sent = ?, last_error = NULL, last_error_at = NULL"
                " WHERE name = ?",
                [now, name],
            )

    def record_subscription_error(self, name: str, error: str, now: str) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE subscriptions SET last_error = ?, last_error_at = ? WHERE name = ?",
                [error, now, name],
            )

    def pause_subscription(self, name: str, now: str) -> bool:
        """Stop sending; False when it was already paused."""
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE subscriptions SET paused = ? WHERE name = ? AND paused IS NULL", [now, name]
            )
        return cursor.rowcount == 1

    def resume_subscription(self, name: str, now: str) -> bool:
        """Send again, from now on: what was stored while it was paused is not sent later."""
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE subscriptions SET paused = NULL WHERE name = ? AND paused IS NOT NULL", [name]
            )
            if cursor.rowcount:
                self.db.execute(
                    f"UPDATE subscription_recipients SET since = ?, after_claim = {NEWEST_CLAIM}"
                    " WHERE subscription = ?",
                    [now, name],
                )
        return cursor.rowcount == 1
