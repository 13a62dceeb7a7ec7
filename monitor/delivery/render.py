"""The digest as an email: an HTML part that survives real mail clients (tables and inline
styles, no scripts, no external images) and a readable plain-text part.

Everything from a feed is untrusted: Jinja2 autoescapes it, links are kept only for
http(s) URLs, and nothing from a feed reaches a mail header.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from monitor.ingest.pages import page_counts_text
from monitor.language.lexicon import ketamine_spans
from monitor.records import Digest, StoredClaim

CADENCE_NAMES = {"immediate": "alert", "daily": "daily digest", "weekly": "weekly digest"}
CATEGORY_COLOURS = {"efficacy": "#1b6e3a", "safety": "#a12622", "duration": "#7a4f00", "cost": "#1f4f8f"}
MAX_TITLE = 300  # characters of an article title shown; the rest is cut with an ellipsis

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("monitor.delivery", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links make it into the digest."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def highlight(text: str) -> Markup:
    """The sentence, escaped, with its ketamine terms in bold."""
    out, position = [], 0
    for start, end in ketamine_spans(text):
        out.append(escape(text[position:start]))
        out.append(Markup("<strong>%s</strong>") % text[start:end])
        position = end
    out.append(escape(text[position:]))
    return Markup("").join(out)


def shorten(text: str, limit: int = MAX_TITLE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def claim_link(base_url: str | None, claim_id: str) -> str | None:
    """The claim's row in the web view (`monitor serve`), when base_url says where that is."""
    if not base_url:
        return None
    return safe_url(f"{base_url.rstrip('/')}/claims/{quote(claim_id, safe='')}")


def reports(claim: StoredClaim) -> str | None:
    """ "<study title>" for a claim from coverage of a study (not the paper's own claims); the DOI
    when the monitor does not hold the paper."""
    if claim.study_article_id == claim.article_id or not (claim.study_title or claim.study_doi):
        return None
    where = f", {claim.study_source}" if claim.study_source else ""
    return f"{claim.study_title}{where}" if claim.study_title else f"doi:{claim.study_doi}"


def markers(claim: StoredClaim) -> list[str]:
    """Short words an editor scans for: evidence tier, design, size, polarity, hedging."""
    a = claim.attributes
    found = [claim.evidence_tier or "news"]
    if a.study_type:
        found.append(a.study_type)
    if a.sample_size:
        found.append(f"n = {a.sample_size:,}")
    if a.polarity == "null_or_negative":
        found.append("null or negative finding")
    if a.hedged:
        found.append("hedged")
    if claim.corrected:
        found.append("label corrected by an editor")
    return found


def render_html(digest: Digest) -> str:
    return _environment.get_template("digest.html").render(**_context(digest))


def render_text(digest: Digest) -> str:
    return _environment.get_template("digest.txt").render(**_context(digest))


def _context(digest: Digest) -> dict[str, object]:
    peak = max([1, *(n for _, counts in digest.history for n in counts.values())])
    return {
        "digest": digest,
        "categories": digest.categories,
        "cadence_name": CADENCE_NAMES.get(digest.cadence, digest.cadence),
        "since_text": _local(digest, digest.since, time=True) if digest.since else "",
        "colours": CATEGORY_COLOURS,
        "peak": peak,
        "highlight": highlight,
        "safe_url": safe_url,
        "shorten": shorten,
        "page_counts": page_counts_text,
        "reports": reports,
        "study_url": lambda claim: f"https://doi.org/{claim.study_doi}" if claim.study_doi else None,
        "markers": markers,
        "claim_link": lambda claim: claim_link(digest.base_url, claim.claim_id),
        "wrap": lambda text, indent="   ": textwrap.fill(
            " ".join(text.split()),
            width=76,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,  # a link or a long word stays whole
            break_on_hyphens=False,  # "well-tolerated" stays one word for searching the mail
        ),
        "date": lambda claim: (claim.published or claim.extracted_at or "")[:10],
        "week_dates": f"{_local(digest, digest.week.start)} to {_local(digest, digest.week.end, -1)}",
    }


def _local(digest: Digest, moment: datetime, days: int = 0, time: bool = False) -> str:
    local = moment.astimezone(ZoneInfo(digest.week.timezone)) + timedelta(days=days)
    return local.strftime("%a %-d %b %Y, %H:%M %Z" if time else "%a %-d %b %Y")


def subject(digest: Digest) -> str:
    """Built only from numbers, the week and the subscription's name (letters, digits, - and _,
    from the config): no feed text reaches a header."""
    counts = ", ".join(f"{n} {c}" for c, (n, _) in digest.counts.items() if n)
    if digest.subscription:
        label = "alert" if digest.cadence == "immediate" else CADENCE_NAMES[digest.cadence]
        return f"[{digest.subscription}] Ketamine claims {label}: {digest.total} new" + (
            f" ({counts})" if counts else ""
        )
    return f"Ketamine claims, week {digest.week.label}: {digest.total} new" + (
        f" ({counts})" if counts else ""
    )


def build_message(
    digest: Digest,
    sender: str,
    recipients: Sequence[str],
    list_unsubscribe: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(digest)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    domain = sender.rpartition("@")[2].strip("<> ") or None
    idstring = f"subscription-{digest.subscription}" if digest.subscription else f"digest-{digest.week.label}"
    message["Message-ID"] = make_msgid(idstring=idstring, domain=domain)
    if digest.subscription:
        # RFC 2919: mail filters and clients tell the subscriptions apart by this.
        message["List-Id"] = (
            f"{digest.subscription} <{digest.subscription}.ketamine-monitor.{domain or 'localhost'}>"
        )
    if list_unsubscribe:
        message["List-Unsubscribe"] = f"<{list_unsubscribe}>"
    message.set_content(render_text(digest), charset="utf-8")
    message.add_alternative(render_html(digest), subtype="html", charset="utf-8")
    return message
