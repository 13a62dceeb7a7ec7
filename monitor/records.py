"""Frozen dataclasses passed between the stages.

FeedSource -> FetchResult -> ParsedFeed/Article -> Sentence -> Claim, plus the
run summary. No stage hands another a feedparser dict or a sqlite row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CATEGORIES: tuple[str, ...] = ("efficacy", "safety", "duration", "cost")
EVIDENCE_TIERS: tuple[str, ...] = ("peer-reviewed", "regulator", "preprint", "press release", "news")
STUDY_TYPE_NAMES: tuple[str, ...] = (
    "RCT", "meta-analysis", "observational", "case report", "open-label", "animal", "survey", "modelling",
)  # fmt: skip
POLARITIES: tuple[str, ...] = ("positive", "null_or_negative", "neutral")
FORM_NAMES: tuple[str, ...] = (
    "ketamine-assisted psychotherapy", "arketamine", "esketamine nasal spray", "intranasal ketamine",
    "IV ketamine", "IM ketamine", "oral ketamine", "subcutaneous ketamine",
)  # fmt: skip


@dataclass(frozen=True)
class FeedSource:
    """One line of feeds.txt: an http(s) URL, a file:// URL or a local path."""

    url: str
    line: int = 0
    full_text: str | None = None  # feeds.txt's full_text= option (auto, always, never); None: the default


@dataclass(frozen=True)
class FeedState:
    """What we remember about a feed between runs, for conditional GET."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # a 301 pointed here: fetch from there
    gone_since: str | None = None  # answered 410: do not fetch
    next_attempt: str | None = None  # ISO time: not before (Retry-After or back-off)
    consecutive_failures: int = 0
    last_status: int | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one feed. Exactly one of content/error/not_modified applies."""

    source: FeedSource
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None
    elapsed: float = 0.0
    skipped: str | None = None  # why it was not fetched this time (back-off, Retry-After, gone)
    moved_to: str | None = None  # the new address, when every redirect on the way was permanent
    retry_after: float | None = None  # seconds the server asked us to wait (429, 503)

    @property
    def ok(self) -> bool:
        return self.error is None


PAGE_STATUSES: tuple[str, ...] = ("ok", "robots", "paywall", "too_short", "unresolved", "error")


@dataclass(frozen=True)
class PageFetch:
    """The outcome of fetching one article page (fetch -> pages). At most one of content,
    refused and error applies; none of them when nothing was asked (not an http(s) link)."""

    url: str
    final_url: str | None = None
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    refused: str | None = None  # the robots.txt that refused it
    error: str | None = None
    transient: bool = False  # the error may pass (timeout, connection, 5xx, 429): worth another try
    elapsed: float = 0.0


@dataclass(frozen=True)
class Page:
    """What the monitor read from the web page an item links to (monitor.ingest.pages)."""

    url: str  # the link asked for
    status: str  # one of PAGE_STATUSES: only "ok" pages are read for claims
    final_url: str | None = None  # after redirects
    title: str | None = None
    published: datetime | None = None  # from the page's metadata, when it has one
    text: str = ""  # the main text, paragraphs separated by a blank line ("" unless ok)
    reason: str | None = None  # why it is not read (robots rule, HTTP status, paywall marker)
    cited: tuple[str, ...] = ()  # study references in the page's HTML, links included
    retry: bool = False  # a transient failure: try again on a later pass

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Article:
    """One feed item, cleaned: the unit that is stored and mined for claims."""

    id: str  # stable identity: doi:..., url:..., guid:... or hash:...
    url: str | None
    title: str
    text: str  # plain text, paragraphs separated by a blank line
    source: str  # the feed's (or publisher's) name
    feed_url: str
    published: datetime | None = None
    doi: str | None = None
    guid: str | None = None
    authors: str | None = None
    evidence_tier: str = "news"  # preprint | peer-reviewed | press release | regulator | news
    title_key: str = ""  # the headline's words, for finding the same story under another link
    feed_content: bool = False  # the item carried full content (content:encoded, Atom content)
    # study references in the item's HTML, links included (monitor.language.studies)
    cited: tuple[str, ...] = ()
    page: Page | None = None  # the linked page, when it was fetched (its text is then read for claims)

    @property
    def body(self) -> str:
        """The text claims are read from: the page's main text when it was read, else the feed's."""
        return self.page.text if self.page is not None and self.page.ok else self.text

    @property
    def body_unit(self) -> str:
        """Which field claims' offsets point into: "page" or "text" (the feed's text)."""
        return "page" if self.page is not None and self.page.ok else "text"


@dataclass(frozen=True)
class StudyLink:
    """The study an article reports (monitor.language.studies): a paper or preprint is its own study."""

    doi: str | None  # normalised: lower case, no version suffix
    article_id: str | None  # the stored paper or preprint, when the monitor holds it
    title: str | None  # that paper's title
    signal: str  # what decided: self, doi, pubmed, nct, metadata (none: only trial ids found)
    confidence: float
    trial_ids: tuple[str, ...] = ()  # ClinicalTrials.gov NCT numbers named


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's own metadata and its articles."""

    url: str
    title: str
    format: str  # feedparser's version string: rss10, rss20, atom10, ...
    articles: tuple[Article, ...]
    bozo: str | None = None  # feedparser's complaint about ill-formed XML, if any


@dataclass(frozen=True)
class SentenceContext:
    """Where a sentence stands in its article: what the claim models read besides its words."""

    previous: str = ""  # the sentence before it in the same field ("" at the start)
    next: str = ""  # the sentence after it ("" at the end)
    paragraph: int = 0  # its paragraph, counted from 0
    paragraphs: int = 1  # how many paragraphs the field has
    in_paragraph: int = 0  # its place in its paragraph, counted from 0
    index: int = 0  # its place among the field's sentences, counted from 0
    sentences: int = 1  # how many sentences the field has
    quote: str = "none"  # "inside" a quotation opened before it, "contains" quoted words, or "none"
    spans: tuple[tuple[int, int], ...] = ()  # the treatment's mentions, offsets into the sentence


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article that mentions ketamine (or the treatment followed)."""

    article_id: str
    text: str
    unit: str  # "title", "text" (the feed's text) or "page" (the linked page's): where the offsets point
    start: int
    end: int
    mentions: tuple[str, ...]  # the ketamine terms as written (empty for an implicit reference)
    explicit: bool = True  # names ketamine itself, rather than "the drug", "infusions", "it"
    section: str | None = None  # the abstract heading it falls under ("results"), if any
    context: SentenceContext | None = None  # None: a sentence on its own, with no article around it


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one sentence."""

    category: str
    confidence: float
    scores: dict[str, float]
    model_version: str
    polarity: str | None = None  # positive | null_or_negative | neutral; None: not sure enough to say
    secondary: str | None = None  # the runner-up category, when its score is high too


@dataclass(frozen=True)
class Money:
    """An amount of money as stated: "$500" is Money(500.0, "USD")."""

    amount: float
    currency: str  # ISO 4217 code


@dataclass(frozen=True)
class ClaimAttributes:
    """What a claim says besides its category (see monitor.language.attributes for the rules)."""

    polarity: str | None = None  # positive | null_or_negative | neutral; None: not shown (unsure)
    hedged: bool = False
    study_type: str | None = None  # RCT, meta-analysis, observational, case report, open-label, ...
    sample_size: int | None = None
    form: str | None = None  # IV ketamine, esketamine nasal spray, oral ketamine, ...
    durations_days: tuple[float, ...] = ()
    amounts: tuple[Money, ...] = ()
    percentages: tuple[float, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A sentence judged to make a claim about ketamine, with its category."""

    id: str
    sentence: Sentence
    category: str
    confidence: float
    claim_score: float  # the claim detector's probability that this is a claim
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)
    attributes: ClaimAttributes = field(default_factory=ClaimAttributes)
    secondary: str | None = None  # runner-up category when its score is high too
    uncertain: bool = False  # confidence below the uncertainty threshold: shown apart


@dataclass(frozen=True)
class Correction:
    """A person's verdict on a claim's category (or that it is not a claim: "none")."""

    claim_id: str
    text: str
    old_category: str
    new_category: str
    note: str | None
    corrected_by: str
    corrected_at: str
    id: int | None = None


@dataclass(frozen=True)
class FeedReport:
    """What happened to one feed during a pass."""

    url: str
    ok: bool
    status: int | None
    not_modified: bool
    items: int
    new_articles: int
    error: str | None = None
    skipped: str | None = None  # not fetched this pass, and why


@dataclass(frozen=True)
class RunRecord:
    """A pass as recorded in the runs table."""

    id: int
    started: str
    finished: str | None  # None: still running, or the process died
    feeds_ok: int | None
    feeds_failed: int | None
    new_articles: int | None
    new_claims: dict[str, int]
    errors: dict[str, str]


@dataclass(frozen=True)
class RunSummary:
    """The result of one pass over all feeds."""

    run_id: int
    started: datetime
    finished: datetime
    feeds: tuple[FeedReport, ...]
    new_articles: int
    new_claims: dict[str, int]
    pages: dict[str, int] = field(default_factory=dict)  # article pages fetched this pass, by status

    @property
    def feeds_ok(self) -> int:
        return sum(1 for f in self.feeds if f.ok)

    @property
    def feeds_failed(self) -> int:
        return sum(1 for f in self.feeds if not f.ok)


@dataclass(frozen=True)
class StoredClaim:
    """A claim as read back from the database, with its article's metadata."""

    claim_id: str
    text: str
    category: str
    confidence: float
    claim_score: float
    scores: dict[str, float]
    mentions: tuple[str, ...]
    unit: str
    start: int
    end: int
    model_version: str
    extracted_at: str
    article_id: str
    article_title: str
    article_url: str | None
    source: str
    published: str | None
    doi: str | None
    feed_url: str
    feed_urls: tuple[str, ...]
    evidence_tier: str | None = None
    explicit: bool = True
    attributes: ClaimAttributes = field(default_factory=ClaimAttributes)
    secondary: str | None = None
    uncertain: bool = False
    model_category: str | None = None  # what the model said, when a person has corrected it
    corrected: bool = False
    study_doi: str | None = None  # the study its article reports (monitor.language.studies)
    study_article_id: str | None = None  # that study's stored paper or preprint, when held
    study_title: str | None = None
    study_source: str | None = None  # where that paper appeared (its feed: the journal or server)
    rank: float | None = None  # BM25 rank when the claim came from a search (lower is better)
    highlighted: str | None = None  # the text with matches marked, from a search


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims a search or export wants."""

    categories: tuple[str, ...] = ()
    since: str | None = None  # ISO date or time, on the article's date (or when stored, if it has none)
    until: str | None = None  # inclusive: "2026-06-30" covers the whole day
    sources: tuple[str, ...] = ()  # any of these, as part of the source name, case-insensitive
    evidence_tiers: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    polarities: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    min_confidence: float | None = None
    include_uncertain: bool = True
    uncertain_only: bool = False
    stored_since: str | None = None  # ISO time: claims stored from then on (the review queue)
    study: str | None = None  # a DOI or article id: the study's own claims and its coverage's
    include_rejected: bool = False  # claims a person marked "not a claim"
    limit: int | None = None
    offset: int = 0


ALL_CLAIMS = ClaimFilter()


@dataclass(frozen=True)
class Week:
    """An ISO week in the configured timezone, with its bounds in UTC."""

    label: str  # "2026-W47"
    start: datetime  # Monday 00:00 local, as an aware UTC datetime
    end: datetime  # the next Monday 00:00 local, as an aware UTC datetime
    timezone: str


@dataclass(frozen=True)
class DigestItem:
    """One claim in the digest, with the other outlets that reported the same thing."""

    claim: StoredClaim
    also_reported_by: tuple[tuple[str, str | None], ...] = ()  # (source, article url)
    covered_by: tuple[tuple[str, str | None], ...] = ()  # for a paper's own claim: who reported the study


@dataclass(frozen=True)
class FeedHealth:
    url: str
    title: str | None
    problem: str  # "failed all week" or "nothing new"
    last_error: str | None
    last_ok: str | None


@dataclass(frozen=True)
class Digest:
    """Everything the weekly email says, before it is rendered."""

    week: Week
    counts: dict[str, tuple[int, int]]  # category -> (this week, previous week)
    history: tuple[tuple[str, dict[str, int]], ...]  # last 8 weeks, oldest first: (label, counts)
    sections: dict[str, tuple[DigestItem, ...]]  # category -> items, strongest first
    needs_review: tuple[DigestItem, ...]
    feed_health: tuple[FeedHealth, ...]
    base_url: str | None = None  # where the web view lives, for links to each claim
    # Article pages fetched for the week's summary-only items: (feed title or URL, status -> count).
    full_text: tuple[tuple[str, dict[str, int]], ...] = ()
    # A subscription's message rather than the weekly digest: its name, cadence and the time
    # from which its claims are new to the reader; then only its categories have sections.
    subscription: str | None = None
    cadence: str = "weekly"
    since: datetime | None = None
    categories: tuple[str, ...] = CATEGORIES
    terms: str = ""  # what the subscription follows, in words, for the message's footer

    @property
    def total(self) -> int:
        """New claims this week (near-duplicates counted each, as in the per-category counts)."""
        return sum(this for this, _ in self.counts.values())


CADENCES: tuple[str, ...] = ("weekly", "daily", "immediate")


@dataclass(frozen=True)
class Subscription:
    """One reader's alert, from a [[subscription]] table of config.toml."""

    name: str  # letters, digits, - and _: it names the subscription in commands and mail headers
    to: tuple[str, ...]  # recipients; each remembers what it was sent
    categories: tuple[str, ...] = CATEGORIES
    query: str | None = None  # `monitor search` syntax; None: every claim of the categories
    evidence_tiers: tuple[str, ...] = ()  # empty: any tier
    min_confidence: float | None = None
    cadence: str = "weekly"  # weekly (at digest_at), daily (at `at`) or immediate (after each pass)
    at: str | None = None  # weekly: "mon 08:00" or a crontab line [digest_at]; daily: "HH:MM" [08:00]
    send_empty: bool = False  # send a weekly or daily message even when nothing is new

    @property
    def filters(self) -> ClaimFilter:
        return ClaimFilter(
            categories=self.categories, evidence_tiers=self.evidence_tiers, min_confidence=self.min_confidence
        )


@dataclass(frozen=True)
class SubscriptionState:
    """What the database remembers of a subscription."""

    name: str
    paused: str | None  # when it was paused; None while active
    last_sent: str | None
    last_error: str | None  # the last failure to send, cleared by the next success
    recipients: dict[str, str]  # address -> since when claims are new to it
