"""The `monitor` command: a thin click adapter over the monitor library.

Expected failures (MonitorError) become one line on stderr and exit code 1.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import __version__
from monitor.config import (
    FULL_TEXT_MODES,
    default_db_path,
    default_feeds_path,
    load_settings,
    load_subscriptions,
)
from monitor.errors import MonitorError
from monitor.records import (
    CATEGORIES,
    EVIDENCE_TIERS,
    FORM_NAMES,
    POLARITIES,
    STUDY_TYPE_NAMES,
    ClaimFilter,
    RunSummary,
)

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(function: F) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except MonitorError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=lambda _ctx, _param, value: value or default_db_path(),
    help="SQLite database [default: $MONITOR_DB, else monitor.db in $MONITOR_HOME or the user data dir].",
)
feeds_option = click.option(
    "--feeds",
    "feeds_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=lambda _ctx, _param, value: value or default_feeds_path(),
    help="Feeds file, one URL or path per line [default: $MONITOR_FEEDS, else ./feeds.txt].",
)
category_option = click.option(
    "--category",
    "categories",
    multiple=True,
    type=click.Choice(CATEGORIES),
    help="Only claims in this category (repeatable).",
)


class IsoDate(click.ParamType):
    """A date (2026-06-01) or a date and time (2026-06-01T08:00), kept as ISO text."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-06-01", param, ctx)
        return parsed.date().isoformat() if len(str(value)) == 10 else parsed.isoformat()


def filter_options(function: F) -> F:
    """The filters search and export share."""
    options = [
        category_option,
        click.option("--since", type=IsoDate(), help="Claims dated on or after (the article's date)."),
        click.option("--until", type=IsoDate(), help="Claims dated on or before."),
        click.option("--source", "sources", multiple=True, help="Source name contains this (repeatable)."),
        click.option("--evidence-tier", "tiers", multiple=True, type=click.Choice(EVIDENCE_TIERS)),
        click.option("--study-type", "study_types", multiple=True, type=click.Choice(STUDY_TYPE_NAMES)),
        click.option("--polarity", "polarities", multiple=True, type=click.Choice(POLARITIES)),
        click.option("--form", "forms", multiple=True, type=click.Choice(FORM_NAMES), help="Form or route."),
        click.option(
            "--study",
            default=None,
            metavar="DOI_OR_ARTICLE_ID",
            help="A study's own claims and the claims of its coverage (DOI, doi.org link or article id).",
        ),
        click.option(
            "--min-confidence", type=click.FloatRange(0, 1), help="Category probability at least this."
        ),
        click.option(
            "--include-uncertain/--exclude-uncertain",
            default=True,
            show_default=True,
            help="Claims whose category the model was unsure of (marked 'uncertain' in tables).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_filter(**given: Any) -> ClaimFilter:
    return ClaimFilter(
        categories=given["categories"],
        since=given["since"],
        until=given["until"],
        sources=given["sources"],
        evidence_tiers=given["tiers"],
        study_types=given["study_types"],
        polarities=given["polarities"],
        forms=given["forms"],
        study=given.get("study"),
        min_confidence=given["min_confidence"],
        include_uncertain=given["include_uncertain"],
        limit=given.get("limit"),
        offset=given.get("offset", 0),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
def cli() -> None:
    """Watch news and preprint feeds for claims about ketamine in depression.

    Claims are sorted under efficacy, safety, duration and cost, stored in a
    SQLite database, and can be searched and exported.
    """


@cli.command()
@feeds_option
@db_option
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0,
    help="If another pass is running, wait this many seconds for it [default: do not wait].",
)
@handle_errors
def once(feeds_path: Path, db_path: Path, wait: float) -> None:
    """Run one full pass: fetch every feed, find and classify claims, store them.

    Prints a summary; exits 1 only when no feed could be read. Only one pass runs
    at a time: with `monitor run` busy, it exits with a message (or --wait). Then
    sends the immediate subscriptions' alerts; one that fails is retried after the
    next pass, and does not change the exit code.
    """
    from monitor.delivery import subscriptions as subscribing
    from monitor.pipeline import run_configured

    on_progress = _progress_printer() if sys.stderr.isatty() else None
    settings, subscriptions = load_settings(), load_subscriptions()
    subscribing.register(db_path, subscriptions)  # before the pass: its claims are new to them
    summary = run_configured(feeds_path, db_path, settings, on_progress, wait)
    click.echo(format_summary(summary, db_path))
    for outcome in subscribing.after_pass(db_path, settings, subscriptions):
        click.echo(f"alert {outcome.line}", err=outcome.failed)
    if summary.feeds and summary.feeds_ok == 0:
        click.echo("Error: no feed could be read", err=True)
        sys.exit(1)


@cli.command()
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "json", "atom"]),
    default="jsonl",
    show_default=True,
)
@filter_options
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write [default: stdout].",
)
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark (for Excel).")
@click.option("--count", "count_only", is_flag=True, help="Print only how many claims would be exported.")
@click.option("--corrections", is_flag=True, help="Export corrections as training rows instead of claims.")
@handle_errors
def export(
    db_path: Path, fmt: str, output: Any, bom: bool, count_only: bool, corrections: bool, **filters: Any
) -> None:
    """Export every claim with all its attributes and its article's metadata.

    Streams with no row limit, in the formats' own conventions: csv is RFC 4180
    (one header row, then one row per claim; lists and objects as JSON text in
    their cells), jsonl is one claim object per line, json one array of claim
    objects, atom an Atom 1.0 feed with one entry per claim, for feed readers.
    The same filters give the same claims as `monitor search` with no query. The
    number of claims goes to stderr on a terminal, or alone with --count. With
    --corrections, export people's corrections instead, as training rows (JSON
    Lines in the models/data format).
    """
    if corrections:
        from monitor.language.corrections import export_corrections

        export_corrections(db_path, output)
        return
    from monitor.delivery.export import count_claims, export_claims

    if count_only:
        click.echo(count_claims(db_path, make_filter(**filters)))
        return
    settings = load_settings()
    written = export_claims(db_path, fmt, output, make_filter(**filters), bom=bom, base_url=settings.base_url)
    if sys.stderr.isatty():
        click.echo(f"{written} claims", err=True)


@cli.command()
@feeds_option
@db_option
@click.option(
    "--poll-interval",
    default=None,
    help="How often to poll: 6h, 30m, 10s, 1h30m [default: poll_interval in the config, else 6h].",
)
@click.option(
    "--digest-at",
    default=None,
    help="When to send the digest and weekly subscriptions: 'mon 08:00', or a crontab line "
    "(5 fields, or 6 with seconds first) [default: digest_at in the config, else mon 08:00].",
)
@click.option(
    "--timezone", default=None, help="IANA timezone for the schedule and digest weeks [default: config]."
)
@click.option("--to", "recipients", multiple=True, help="Digest recipient (repeatable) [default: digest_to].")
@click.option("-v", "--verbose", is_flag=True, help="Log every feed of every pass.")
@handle_errors
def run(
    feeds_path: Path,
    db_path: Path,
    poll_interval: str | None,
    digest_at: str | None,
    timezone: str | None,
    recipients: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run as a service: poll the feeds on an interval and send the weekly digest.

    Each subscription in the config is sent at its cadence: weekly ones with the
    digest, daily ones at their hour, immediate ones after each pass. Logs one line
    per pass to stderr. Stops cleanly on SIGTERM or SIGINT.
    """
    from monitor.schedule import run_service

    settings = load_settings()
    if timezone:
        settings = dataclasses.replace(settings, timezone=timezone)
    if digest_at:
        settings = dataclasses.replace(settings, digest_at=digest_at)
    run_service(
        feeds_path,
        db_path,
        settings,
        poll_interval or settings.poll_interval,
        list(recipients) or list(settings.digest_to),
        verbose,
        load_subscriptions(),
    )


@cli.command()
@feeds_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def status(feeds_path: Path, db_path: Path, as_json: bool) -> None:
    """Show the last passes, the next poll and digest, failing feeds, subscriptions and the last digest.

    Works while `monitor run` is running.
    """
    from monitor.schedule import format_status, service_status

    report = service_status(db_path, settings=load_settings(), subscriptions=load_subscriptions())
    click.echo(json.dumps(report, indent=1) if as_json else format_status(report))


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@handle_errors
def serve(db_path: Path, host: str, port: int) -> None:
    """Browse the claim database in Datasette, read-only (needs the `web` extra).

    Facets, full-text search and canned queries for researchers; set base_url in the
    config to http://HOST:PORT/DBNAME and the digest links each claim to its row here.
    """
    from monitor.delivery.web import serve as serve_datasette

    serve_datasette(db_path, host, port)


@cli.group()
def feeds() -> None:
    """Manage feeds.txt: list, add, remove, check, import and export OPML."""


@feeds.command("list")
@feeds_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def feeds_list(feeds_path: Path, db_path: Path, as_json: bool) -> None:
    """List the feeds with their health (from the database)."""
    from monitor.ingest.feeds import list_feeds

    listings = list_feeds(feeds_path, db_path, load_settings().full_text)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(f) for f in listings], indent=1))
        return
    for f in listings:
        click.echo(f"{f.status:<15} {f.url}")
        click.echo(f"{'':<15} {feed_health_line(f)}")


@feeds.command("add")
@click.argument("url")
@click.option("--comment", default=None, help="A comment line to put above it.")
@click.option(
    "--full-text",
    type=click.Choice(FULL_TEXT_MODES),
    default=None,
    help="Read the page behind its items: auto (summary-only items about ketamine), always, never "
    "[default: the full_text setting].",
)
@feeds_option
@handle_errors
def feeds_add(url: str, comment: str | None, full_text: str | None, feeds_path: Path) -> None:
    """Add a feed (URL or path) to the end of feeds.txt."""
    from monitor.ingest.feeds import add_feed

    click.echo(f"added {add_feed(feeds_path, url, comment, full_text)} to {feeds_path}")


@feeds.command("remove")
@click.argument("url")
@feeds_option
@handle_errors
def feeds_remove(url: str, feeds_path: Path) -> None:
    """Remove a feed from feeds.txt, keeping every comment."""
    from monitor.ingest.feeds import remove_feed

    remove_feed(feeds_path, url)
    click.echo(f"removed {url} from {feeds_path}")


@feeds.command("check")
@click.argument("url", required=False)
@feeds_option
@handle_errors
def feeds_check(url: str | None, feeds_path: Path) -> None:
    """Fetch a feed (or all of feeds.txt) now and report status, items and ketamine items.

    Nothing is stored.
    """
    from monitor.ingest.feeds import check_feeds

    checks = check_feeds(feeds_path, load_settings(), url)
    for c in checks:
        if c.ok:
            detail = f"HTTP {c.status}, {c.format}, {c.items} items, {c.ketamine_items} about ketamine"
            click.echo(f"ok      {c.url}\n        {detail}, {c.seconds}s")
        else:
            click.echo(f"FAILED  {c.url}\n        {c.error}")
    if checks and not any(c.ok for c in checks):
        sys.exit(1)


@feeds.command("import-opml")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@feeds_option
@handle_errors
def feeds_import_opml(opml: Path, feeds_path: Path) -> None:
    """Add the feeds of an OPML subscription list (from a feed reader) to feeds.txt."""
    from monitor.ingest.feeds import import_opml

    added, present = import_opml(feeds_path, opml)
    click.echo(f"added {len(added)} feeds to {feeds_path}; {len(present)} were already there")


@feeds.command("export-opml")
@feeds_option
@db_option
@click.option(
    "-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File [default: stdout]."
)
@handle_errors
def feeds_export_opml(feeds_path: Path, db_path: Path, output: Any) -> None:
    """Write feeds.txt as OPML 2.0, for feed readers."""
    from monitor.ingest.feeds import export_opml

    output.write(export_opml(feeds_path, db_path))


@cli.command()
@click.argument("query", required=False, default="")
@db_option
@filter_options
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    default="table",
    show_default=True,
)
@handle_errors
def search(query: str, db_path: Path, fmt: str, **filters: Any) -> None:
    """Full-text search over claims and their article titles, best match first.

    Words are all required and stemmed ("relapse" finds "relapsed"); use "double
    quotes" for a phrase and word* for a prefix; "ketamine" also finds esketamine,
    arketamine and the brand names. With no query, the newest claims that pass the
    filters: the same claims `monitor export` writes with the same filters.

    Ranking is BM25, exact when the query has up to 100,000 matches or holds a
    phrase. Words found in more claims are ranked among their 1,000 shortest matches
    that pass the filters (BM25 ranks such words almost only by sentence length), so
    no match is left out however old; what can differ from scoring every match is a
    longer sentence that repeats the word or has it in its title.
    """
    from monitor.delivery.export import search_claims, write_search

    results = search_claims(db_path, query, make_filter(**filters))
    write_search(results, fmt, sys.stdout)


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True)
@click.option(
    "--claims", "with_claims", is_flag=True, help="Also extract and classify the claims it would store."
)
@handle_errors
def article(urls: tuple[str, ...], fmt: str, with_claims: bool) -> None:
    """Fetch article pages as a pass would and print what the monitor would read.

    Obeys robots.txt and the same User-Agent, timeouts, size cap and redirect limit as a
    pass. For each URL: the status (ok, robots, paywall, too_short, unresolved, error with
    the reason), the final URL, title, date and main text; --format jsonl prints one JSON
    object per URL. Exits 1 when no page could be read.
    """
    from monitor.pipeline import read_configured

    results = read_configured(urls, load_settings(), with_claims)
    for page, claims in results:
        if fmt == "jsonl":
            click.echo(json.dumps(page_record(page, claims if with_claims else None), ensure_ascii=False))
        else:
            click.echo(format_page(page, claims if with_claims else None))
    if not any(page.ok for page, _ in results):
        sys.exit(1)


@cli.command()
@click.argument("texts", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True)
@handle_errors
def classify(texts: tuple[str, ...], fmt: str) -> None:
    """Classify sentences, each taken as a claim about ketamine.

    Give sentences as arguments, or one per line on stdin. Prints one JSON object
    per sentence with its category, confidence and per-category scores.
    """
    from monitor.language.classify import ClaimClassifier, classify_texts

    lines = list(texts)
    if not lines:  # only then: the export module brings sqlite-utils (0.25 s to import)
        from monitor.delivery.export import read_lines

        lines = list(read_lines(sys.stdin))
    classifier = ClaimClassifier.load(load_settings().models_dir)
    for record in classify_texts(classifier, lines):
        if fmt == "jsonl":
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"{record['category']:<9} {record['confidence']:.2f}  {record['text']}")


def _default_corpus() -> Path | None:
    from monitor.language.realtext import default_corpus

    return default_corpus()


corpus_option = click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=Path),
    default=_default_corpus,
    help="The real texts models/real points into [default: $MONITOR_CORPUS, else ../shared/corpus "
    "beside the checkout, when present].",
)


@cli.command()
@db_option
@corpus_option
@handle_errors
def train(db_path: Path, corpus: Path | None) -> None:
    """Retrain the classifier from models/data, the real articles labelled in models/real
    (read from the corpus) and the corrections in the database.

    Corrections win over shipped rows for the same sentence. Without a corpus it
    trains on the hand-written data alone, and says so. Deterministic: the same
    data gives the same model file, byte for byte. Prints cross-validated scores
    and the evaluation sets' scores before and after.
    """
    from monitor.language.evaluate import retrain_and_compare

    settings = load_settings()
    if corpus is None:
        click.echo(
            "no corpus found (../shared/corpus, $MONITOR_CORPUS or --corpus): training on the "
            "hand-written data only, without the real articles of models/real",
            err=True,
        )
    click.echo(f"training on {settings.models_dir / 'data'} ...", err=True)
    result = retrain_and_compare(settings, db_path, corpus)
    report = result.report
    click.echo(
        f"model {report.version}: {report.examples} examples "
        f"({report.corrections} corrections) {report.label_counts}"
    )
    click.echo(f"claim detector F1 (5-fold CV): {report.claim_f1:.3f}")
    per = ", ".join(f"{c} {f:.3f}" for c, f in report.category_f1.items())
    click.echo(f"category macro F1 (5-fold CV): {report.category_macro_f1:.3f} ({per})")
    for when, scores in (("before", result.before), ("after", result.after)):
        for set_name, scored in scores.items():
            click.echo(
                f"{set_name} set {when}: extraction F1 {scored.extraction.f1:.3f}, "
                f"end-to-end macro F1 {scored.end_to_end_macro_f1:.3f}, "
                f"classification macro F1 {scored.classification_macro_f1:.3f} (model {scored.model_version})"
            )


@cli.command()
@click.argument("claim_id")
@click.argument("category", type=click.Choice([*CATEGORIES, "none"]))
@click.option("--note", default=None, help="Why, in your words.")
@click.option("--by", default=None, help="Who is correcting [default: $MONITOR_USER or your login].")
@db_option
@handle_errors
def label(claim_id: str, category: str, note: str | None, by: str | None, db_path: Path) -> None:
    """Correct a claim's category (or say it is not a claim with `none`).

    The correction is recorded with who and when; search, export and the digest
    show the corrected label from then on, and `monitor train` learns from it.
    """
    from monitor.language.corrections import label_claim

    c = label_claim(db_path, claim_id, category, note, by)
    click.echo(f"{c.claim_id}: {c.old_category} -> {c.new_category} (by {c.corrected_by})")


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=7,
    show_default=True,
    help="Claims stored in the last N days.",
)
@click.option("--by", default=None, help="Who is reviewing [default: $MONITOR_USER or your login].")
@db_option
@handle_errors
def review(days: int, by: str | None, db_path: Path) -> None:
    """Walk the uncertain claims of the last N days and label each one.

    Answer e(fficacy), s(afety), d(uration), c(ost), n(ot a claim), Enter to skip, q to quit.
    """
    from monitor.language.corrections import label_claim, review_queue

    queue = review_queue(db_path, days)
    keys = {"e": "efficacy", "s": "safety", "d": "duration", "c": "cost", "n": "none"}
    done = 0
    for number, claim in enumerate(queue, 1):
        click.echo(f"\n[{number}/{len(queue)}] {claim.category} ({claim.confidence:.2f}) {claim.source}")
        click.echo(f"  {claim.text}")
        click.echo(f"  {claim.article_title}")
        answer = (
            click.prompt("  [e/s/d/c/n, Enter skip, q quit]", default="", show_default=False).strip().lower()
        )
        if answer == "q":
            break
        if answer in keys:
            label_claim(db_path, claim.claim_id, keys[answer], None, by)
            done += 1
    click.echo(f"{done} labelled, {len(queue) - done} left uncertain")


@cli.command()
@db_option
@handle_errors
def reclassify(db_path: Path) -> None:
    """Re-run every stored claim through the current model; corrected claims keep their label."""
    from monitor.language.classify import ClaimClassifier
    from monitor.language.corrections import reclassify as reclassify_claims

    settings = load_settings()
    summary = reclassify_claims(db_path, ClaimClassifier.load(settings.models_dir), settings.uncertain_below)
    click.echo(
        f"model {summary.model_version}: {summary.relabelled} claims relabelled "
        f"({summary.changed} changed category), {summary.kept} corrected claims kept"
    )


@cli.command()
@click.option("--week", default=None, help="ISO week, e.g. 2026-W47 [default: the last complete week].")
@db_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write FILE.html or FILE.eml (the whole message) instead of printing the text.",
)
@click.option("--send", is_flag=True, help="Deliver by SMTP (settings from the config and MONITOR_SMTP_*).")
@click.option(
    "--to", "recipients", multiple=True, help="Recipient (repeatable) [default: digest_to in the config]."
)
@click.option("--force", is_flag=True, help="Send even if this week already went to these recipients.")
@click.option(
    "--subscription",
    "subscription_name",
    default=None,
    metavar="NAME",
    help="A subscription's message instead: what is new to its readers now (--send sends it and records it).",
)
@handle_errors
def digest(
    week: str | None,
    db_path: Path,
    output: Path | None,
    send: bool,
    recipients: tuple[str, ...],
    force: bool,
    subscription_name: str | None,
) -> None:
    """Build the weekly digest of new claims, grouped by category; print, save or send it.

    With --subscription NAME, the message that subscription would send now: only
    its categories and search, only claims not yet sent to its readers. Preview it,
    save it (--output), or --send it now whatever its cadence (even when paused).
    """
    from monitor.delivery.digest import deliver, make_digest, write_digest

    settings = load_settings()
    if subscription_name:
        from monitor.delivery import subscriptions

        chosen = subscriptions.find(load_subscriptions(), subscription_name)
        if week or recipients or force:
            raise click.UsageError("--week, --to and --force are for the weekly digest, not --subscription")
        if send:
            click.echo(subscriptions.send(db_path, settings, chosen, scheduled=False).line)
        else:
            preview = subscriptions.preview(db_path, settings, chosen)
            unsubscribe = subscriptions.unsubscribe_address(chosen, settings)
            click.echo(write_digest(preview, settings, output, list(chosen.to), unsubscribe))
        return
    built = make_digest(db_path, settings, week)
    to = list(recipients) or list(settings.digest_to)
    if send:
        click.echo(deliver(built, settings, db_path, to, force))
    else:
        click.echo(write_digest(built, settings, output, to))


@cli.group()
def subscriptions() -> None:
    """Readers' subscriptions ([[subscription]] in config.toml): list, pause, resume."""


@subscriptions.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def subscriptions_list(db_path: Path, as_json: bool) -> None:
    """Each subscription: cadence, recipients, what it follows, next send, last sent, waiting claims."""
    from monitor.delivery.subscriptions import format_overview, overview

    rows = overview(db_path, load_settings(), load_subscriptions())
    click.echo(json.dumps(rows, indent=1) if as_json else format_overview(rows))


@subscriptions.command("pause")
@click.argument("name")
@db_option
@handle_errors
def subscriptions_pause(name: str, db_path: Path) -> None:
    """Stop sending NAME's messages until it is resumed."""
    from monitor.delivery.subscriptions import set_paused

    click.echo(set_paused(db_path, load_subscriptions(), name, paused=True))


@subscriptions.command("resume")
@click.argument("name")
@db_option
@handle_errors
def subscriptions_resume(name: str, db_path: Path) -> None:
    """Send NAME's messages again, from now on (what was stored while paused is not sent)."""
    from monitor.delivery.subscriptions import set_paused

    click.echo(set_paused(db_path, load_subscriptions(), name, paused=False))


@cli.command()
@click.option(
    "--threshold", type=click.FloatRange(0, 1), default=None, help="Claim threshold [default: from config]."
)
@click.option(
    "--errors",
    type=click.File("w", encoding="utf-8"),
    default=None,
    help="Write missed and spurious claims here (JSON Lines).",
)
@click.option(
    "--set",
    "set_name",
    type=click.Choice(["dev", "heldout", "real"]),
    default="dev",
    show_default=True,
    help="models/eval (the development set), models/heldout (never tuned on) or real (real "
    "articles labelled in models/real, held back from training; needs the corpus).",
)
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@handle_errors
def evaluate(threshold: float | None, errors: Any, set_name: str, corpus: Path | None, as_json: bool) -> None:
    """Score the whole pipeline on hand-labelled articles (models/eval, models/heldout,
    or the real development set).

    Reports claim-extraction precision, recall and F1, per-category F1 end to end,
    the classifier alone on the labelled claims (with a confusion matrix), and a
    breakdown by article kind.
    """
    from monitor.language.evaluate import run_evaluation

    report, text = run_evaluation(load_settings(), threshold, errors, set_name, corpus)
    click.echo(json.dumps(dataclasses.asdict(report), indent=1) if as_json else text, nl=not as_json)


def feed_health_line(f: Any) -> str:
    parts = [f.title or "(no title yet)", f"{f.articles_stored} articles stored"]
    if f.attempts:
        parts.append(f"{f.attempts} fetches, {f.not_modified_rate:.0%} unchanged (304)")
    if f.consecutive_failures:
        parts.append(f"{f.consecutive_failures} failures in a row, last: {f.last_error}")
    if f.last_ok:
        parts.append(f"last success {f.last_ok}")
    if f.moved_to:
        parts.append(f"moved permanently to {f.moved_to}: update feeds.txt")
    if f.gone_since:
        parts.append(f"410 Gone since {f.gone_since[:10]}: remove it from feeds.txt")
    if f.next_attempt:
        parts.append(f"next try after {f.next_attempt}")
    parts.append(f"full text {f.full_text}")
    if f.pages:
        from monitor.ingest.pages import page_counts_text

        parts.append(f"article pages: {page_counts_text(f.pages)}")
        if f.pages.get("unresolved"):
            parts.append("its links need scripts to reach the publisher: summaries are read instead")
    return "; ".join(parts)


def page_record(page: Any, claims: list[Any] | None) -> dict[str, Any]:
    from monitor.ingest.pages import page_json

    record = page_json(page)
    if claims is not None:
        record["claims"] = [
            {"text": c.sentence.text, "category": c.category, "confidence": round(c.confidence, 4),
             "claim_score": round(c.claim_score, 4), "unit": c.sentence.unit}
            for c in claims
        ]  # fmt: skip
    return record


def format_page(page: Any, claims: list[Any] | None) -> str:
    lines = [f"== {page.url}", f"status: {page.status}" + (f" ({page.reason})" if page.reason else "")]
    if page.final_url and page.final_url != page.url:
        lines.append(f"final url: {page.final_url}")
    lines.append(f"title: {page.title or '-'}")
    lines.append(f"published: {page.published.isoformat(timespec='seconds') if page.published else '-'}")
    if page.text:
        lines += ["", page.text]
    if claims is not None:
        lines += ["", f"claims: {len(claims)}"]
        lines += [f"  [{c.category} {c.confidence:.2f}] {c.sentence.text}" for c in claims]
    return "\n".join(lines) + "\n"


def _progress_printer() -> Callable[[str, int, int], None]:
    """One status line on the terminal, rewritten in place: feeds fetched, then articles read."""

    def show(stage: str, done: int, total: int) -> None:
        click.echo(f"\r{stage} {done}/{total}\033[K", err=True, nl=done == total)

    return show


def format_summary(summary: RunSummary, db_path: Path) -> str:
    lines = [f"feeds: {summary.feeds_ok} ok, {summary.feeds_failed} failed"]
    lines += [f"  failed {f.url}: {f.error}" for f in summary.feeds if not f.ok]
    lines.append(f"new articles: {summary.new_articles}")
    if summary.pages:
        from monitor.ingest.pages import page_counts_text

        lines.append(f"article pages: {page_counts_text(summary.pages)}")
    total = sum(summary.new_claims.values())
    per = ", ".join(f"{c} {n}" for c, n in summary.new_claims.items())
    lines.append(f"new claims: {total} ({per})")
    seconds = (summary.finished - summary.started).total_seconds()
    lines.append(f"database: {db_path} (run {summary.run_id}, {seconds:.1f}s)")
    return "\n".join(lines)
