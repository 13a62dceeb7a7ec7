"""The Datasette plugin `monitor serve` registers: the monitor's search query builder as SQL,
and the claims feed's entry title and HTML (the same as `monitor export --format atom`).

Imported only by monitor.delivery.web.register_plugin, when Datasette is installed.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

from monitor.delivery.atom import entry_html, entry_title
from monitor.storage.claimsql import fts_query


def monitor_query(text: str | None) -> str:
    """The FTS5 query `monitor search` would run for text. Text with no words matches nothing
    (an empty phrase) rather than raising an FTS5 syntax error in the page."""
    return fts_query(text or "") or '""'


# trylast: runs after Datasette's own prepare_connection, so this escape_fts replaces its own.
@hookimpl(trylast=True)
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("monitor_query", 1, monitor_query, deterministic=True)
    conn.create_function("escape_fts", 1, monitor_query, deterministic=True)
    conn.create_function("monitor_entry_title", 2, entry_title, deterministic=True)
    conn.create_function("monitor_entry_html", 8, entry_html, deterministic=True)
