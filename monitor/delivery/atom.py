"""Claims as an Atom 1.0 feed (RFC 4287), so a researcher can follow a search in any feed reader.

One entry per claim, streamed: the feed's head, then each entry serialised by lxml on its own
(lxml escapes and refuses what XML cannot hold, after we drop the control characters feeds
sometimes carry), so memory stays flat however many claims match. Entry ids come from claim ids
and never change; `monitor serve`'s `.atom` URL gives the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import urlencode

from lxml import etree
from markupsafe import Markup, escape

from monitor import __version__
from monitor.config import PROJECT_URL
from monitor.records import ClaimFilter, StoredClaim

ATOM = "http://www.w3.org/2005/Atom"
ENTRY_ID = "urn:ketamine-monitor:claim:"  # + claim id; the web view's feed uses the same
TITLE_WORDS = 12
# What XML 1.0 cannot carry (C0 controls but tab, newline, carriage return; lone surrogates).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def entry_id(claim_id: str) -> str:
    return ENTRY_ID + claim_id


def entry_title(category: str, text: str) -> str:
    words = " ".join(text.split()).split(" ")
    head = " ".join(words[:TITLE_WORDS]) + (" \u2026" if len(words) > TITLE_WORDS else "")
    return f"{category.capitalize()}: {head}"


def rfc3339(value: str | None) -> str:
    """Stored times are ISO 8601 already; a bare date becomes its midnight in UTC."""
    if not value:
        return datetime.now(UTC).isoformat(timespec="seconds")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def feed_id(filters: ClaimFilter) -> str:
    """A feed's id names its filters, so two different searches are two different feeds."""
    terms = [
        ("category", ",".join(filters.categories)),
        ("since", filters.since or ""),
        ("until", filters.until or ""),
        ("source", ",".join(filters.sources)),
        ("evidence_tier", ",".join(filters.evidence_tiers)),
        ("study_type", ",".join(filters.study_types)),
        ("polarity", ",".join(filters.polarities)),
        ("form", ",".join(filters.forms)),
        ("study", filters.study or ""),
        ("min_confidence", "" if filters.min_confidence is None else str(filters.min_confidence)),
        ("uncertain", "" if filters.include_uncertain else "excluded"),
    ]
    query = urlencode([(k, v) for k, v in terms if v])
    return "urn:ketamine-monitor:claims" + (f"?{query}" if query else "")


def feed_title(filters: ClaimFilter) -> str:
    what = " and ".join(filters.categories) if filters.categories else "all categories"
    extra = f" from {', '.join(filters.evidence_tiers)} sources" if filters.evidence_tiers else ""
    return f"Ketamine claims: {what}{extra}"


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _serialised(element: etree._Element) -> str:
    """An element as text, without the namespace declaration the feed element already makes."""
    return etree.tostring(element, encoding="unicode").replace(f' xmlns="{ATOM}"', "", 1)


def _element(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _clean(v) for k, v in attributes.items()})
    if text is not None:
        child.text = _clean(text)
    return child


def entry_html(
    text: str,
    source: str | None,
    title: str | None,
    link: str | None,
    date: str | None,
    tier: str | None,
    category: str,
    confidence: float,
) -> str:
    """The entry's HTML: the sentence, then source, linked title, date and evidence tier."""
    from monitor.delivery.render import safe_url

    link = safe_url(link)
    heading = escape(title or "(untitled)")
    linked = Markup('<a href="%s">%s</a>') % (link, heading) if link else heading
    details = Markup(" &middot; ").join(
        [escape(source or "unknown source"), linked, escape((date or "")[:10]), escape(tier or "news")]
    )
    return str(
        Markup("<p>%s</p><p>%s</p><p>%s</p>") % (text, details, f"{category}, confidence {confidence:.0%}")
    )


def entry_xml(claim: StoredClaim, base_url: str | None = None) -> str:
    from monitor.delivery.render import claim_link, safe_url

    entry = etree.Element(f"{{{ATOM}}}entry", nsmap={None: ATOM})
    _element(entry, "id", entry_id(claim.claim_id))
    _element(entry, "title", entry_title(claim.category, claim.text))
    _element(entry, "updated", rfc3339(claim.extracted_at))
    if claim.published:
        _element(entry, "published", rfc3339(claim.published))
    author = _element(entry, "author")
    _element(author, "name", claim.source or "unknown source")
    link = safe_url(claim.article_url)
    if link:
        _element(entry, "link", rel="alternate", type="text/html", href=link)
    page = claim_link(base_url, claim.claim_id)
    if page:
        _element(entry, "link", rel="related", href=page, title="this claim in the claim browser")
    _element(entry, "category", term=claim.category)
    _element(entry, "category", term=claim.evidence_tier or "news", label="evidence tier")
    _element(entry, "summary", claim.text, type="text")
    html = entry_html(
        claim.text,
        claim.source,
        claim.article_title,
        claim.article_url,  # entry_html keeps http(s) links only, as for the web view's feed
        claim.published or claim.extracted_at,
        claim.evidence_tier,
        claim.category,
        claim.confidence,
    )
    _element(entry, "content", html, type="html")
    return _serialised(entry)


def write_atom(
    claims: Iterable[StoredClaim],
    out: TextIO,
    filters: ClaimFilter,
    updated: str | None,
    base_url: str | None,
) -> int:
    """Write the feed; `updated` is the newest claim's time (the feed's own, as Atom requires)."""
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write(f'<feed xmlns="{ATOM}">\n')
    head = etree.Element(f"{{{ATOM}}}head", nsmap={None: ATOM})
    for tag, text in (
        ("id", feed_id(filters)),
        ("title", feed_title(filters)),
        ("updated", rfc3339(updated)),
    ):
        _element(head, tag, text)
    _element(head, "generator", "ketamine claim monitor", uri=PROJECT_URL, version=__version__)
    if base_url:
        _element(head, "link", rel="alternate", href=base_url)
    for child in head:
        out.write(f"  {_serialised(child)}\n")
    count = 0
    for claim in claims:
        out.write("  " + entry_xml(claim, base_url) + "\n")
        count += 1
    out.write("</feed>\n")
    return count
