"""Where things live and how the monitor is tuned: paths, settings and feeds.txt.

Precedence, most specific first: command-line option, environment variable,
config file, built-in default.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

import platformdirs

from monitor import __version__
from monitor.errors import ConfigError
from monitor.records import CADENCES, CATEGORIES, EVIDENCE_TIERS, FeedSource, Subscription

APP_NAME = "ketamine-monitor"
# When to read the web page an item links to (Settings.full_text, or full_text= after a feed's
# URL in feeds.txt): "auto" for short summaries that name ketamine, "always" for every new item.
FULL_TEXT_MODES = ("auto", "always", "never")
OPTION_RE = re.compile(r"^[a-z_]+=\S*$")
PROJECT_URL = "https://github.com/ketamine-claim-monitor/monitor"


def home_dir() -> Path:
    """The per-user data directory, or $MONITOR_HOME."""
    env = os.environ.get("MONITOR_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """$MONITOR_DB, else monitor.db in the home directory."""
    env = os.environ.get("MONITOR_DB")
    if env:
        return Path(env).expanduser()
    return home_dir() / "monitor.db"


def default_feeds_path() -> Path:
    """$MONITOR_FEEDS, else feeds.txt in the working directory, else in the home directory."""
    env = os.environ.get("MONITOR_FEEDS")
    if env:
        return Path(env).expanduser()
    local = Path("feeds.txt")
    if local.exists():
        return local
    return home_dir() / "feeds.txt"


def default_models_dir() -> Path:
    """$MONITOR_MODELS, else the shipped models."""
    env = os.environ.get("MONITOR_MODELS")
    if env:
        return Path(env).expanduser()
    return shipped_models_dir()


def shipped_models_dir() -> Path:
    """The models inside the wheel, else the checkout's models/."""
    packaged = Path(__file__).parent / "models"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class Settings:
    """Tunable behaviour. Every field can be set in config.toml under [monitor]."""

    user_agent: str = f"ketamine-monitor/{__version__} (+{PROJECT_URL})"  # set your contact URL here
    timeout: float = 30.0  # seconds per request (connect, read and pool each)
    max_bytes: int = 10_000_000  # a feed larger than this (decompressed) is refused
    concurrency: int = 64  # hosts fetched at once (one request at a time per host)
    max_seconds: float = 120.0  # a whole response must arrive within this
    host_delay: float = 1.0  # seconds between two requests to the same host
    max_redirects: int = 5  # redirects followed for a feed or a page, no more
    full_text: str = "auto"  # read the page behind summary-only ketamine items: auto | always | never
    page_attempts: int = 3  # a page that fails is tried again on later passes, this many times in all
    backoff_cap_hours: float = 24.0  # a failing feed is retried at most this far apart
    claim_threshold: float = 0.5  # claim-detector probability above which a sentence is a claim
    uncertain_below: float = 0.6  # category probability below which a claim is flagged uncertain
    review_claims_below: float = 0.7  # claims the detector scored below this go to "needs review"
    spacy_model: str | None = None  # e.g. "en_core_web_sm"; None means spacy.blank("en")
    models_dir: Path = field(default_factory=default_models_dir)
    timezone: str = "UTC"  # IANA name; digest weeks run Monday to Sunday in it
    poll_interval: str = "6h"  # how often `monitor run` polls: 6h, 30m, 10s, 1h30m
    digest_at: str = "mon 08:00"  # when `monitor run` sends the digest: "mon 08:00" or a crontab line
    base_url: str | None = None  # the web view's address, for links from the digest to each claim
    # Mail. MONITOR_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM and _SECURITY override these.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # better in the environment
    smtp_from: str | None = None
    smtp_security: str = "starttls"  # starttls | ssl | none
    digest_to: tuple[str, ...] = ()  # default recipients
    list_unsubscribe: str | None = None  # a mailto: or https: address for the List-Unsubscribe header


def config_path() -> Path:
    env = os.environ.get("MONITOR_CONFIG")
    return Path(env).expanduser() if env else home_dir() / "config.toml"


def load_settings(path: Path | None = None) -> Settings:
    """Read [monitor] from the config file if there is one; unknown keys are an error."""
    path = path or config_path()
    settings = Settings()
    if not path.exists():
        return _from_environment(settings)
    table = _read_config(path).get("monitor", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [monitor] must be a table")
    known = {f.name: f for f in fields(Settings)}
    updates: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(known)})")
        default = getattr(settings, key)
        if key == "models_dir":
            value = Path(str(value)).expanduser()
        elif (
            isinstance(default, tuple) and isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            value = tuple(value)
        elif not _fits(value, default):
            raise ConfigError(f"{path}: {key} must be {type(default).__name__}, got {value!r}")
        updates[key] = value
    settings = replace(settings, **updates)
    return _from_environment(settings)


def _read_config(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc


SUBSCRIPTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ADDRESS = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+$")
_DAILY_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def load_subscriptions(path: Path | None = None) -> tuple[Subscription, ...]:
    """The [[subscription]] tables of the config file, checked; none when there is no file."""
    path = path or config_path()
    if not path.exists():
        return ()
    tables = _read_config(path).get("subscription", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: subscriptions are [[subscription]] tables")
    found: list[Subscription] = []
    for number, table in enumerate(tables, 1):
        subscription = _subscription(table, f"{path}: subscription {number}")
        if any(s.name == subscription.name for s in found):
            raise ConfigError(f"{path}: two subscriptions are named {subscription.name!r}")
        found.append(subscription)
    return tuple(found)


def _subscription(table: dict[str, object], where: str) -> Subscription:
    known = {f.name for f in fields(Subscription)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    name = table.get("name")
    if not isinstance(name, str) or not SUBSCRIPTION_NAME.match(name):
        raise ConfigError(f"{where}: name must be letters, digits, - and _ (up to 64), not {name!r}")
    where = f"{where.rpartition(':')[0]}: subscription {name!r}"

    def words(key: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = table.get(key, [])
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}: {key} must be a string or a list of strings")
        for item in items:
            if allowed is not None and item not in allowed:
                raise ConfigError(f"{where}: {key} must be among {', '.join(allowed)}, not {item!r}")
        return tuple(dict.fromkeys(items))

    to = words("to")
    bad = [a for a in to if not _ADDRESS.match(a)]
    if not to or bad:
        problem = f", not {bad[0]!r}" if bad else ""
        raise ConfigError(f"{where}: to must be one or more email addresses{problem}")
    cadence = table.get("cadence", "weekly")
    if cadence not in CADENCES:
        raise ConfigError(f"{where}: cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    at = table.get("at")
    if at is not None and (not isinstance(at, str) or cadence == "immediate"):
        raise ConfigError(f"{where}: at is a time for weekly or daily subscriptions")
    if cadence == "daily" and at is not None and not _DAILY_AT.match(at):
        raise ConfigError(f"{where}: a daily subscription's at looks like 07:30, not {at!r}")
    query = table.get("query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ConfigError(f"{where}: query must be search words, as `monitor search` takes them")
    confidence = table.get("min_confidence")
    if confidence is not None and (
        isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1
    ):
        raise ConfigError(f"{where}: min_confidence must be a number from 0 to 1")
    send_empty = table.get("send_empty", False)
    if not isinstance(send_empty, bool):
        raise ConfigError(f"{where}: send_empty must be true or false")
    return Subscription(
        name=name,
        to=to,
        categories=words("categories", CATEGORIES) or CATEGORIES,
        query=query.strip() if isinstance(query, str) else None,
        evidence_tiers=words("evidence_tiers", EVIDENCE_TIERS),
        min_confidence=float(confidence) if confidence is not None else None,
        cadence=str(cadence),
        at=at,
        send_empty=send_empty,
    )


SMTP_ENVIRONMENT = {
    "MONITOR_SMTP_HOST": ("smtp_host", str),
    "MONITOR_SMTP_PORT": ("smtp_port", int),
    "MONITOR_SMTP_USER": ("smtp_user", str),
    "MONITOR_SMTP_PASSWORD": ("smtp_password", str),
    "MONITOR_SMTP_FROM": ("smtp_from", str),
    "MONITOR_SMTP_SECURITY": ("smtp_security", str),
}


def _from_environment(settings: Settings) -> Settings:
    updates: dict[str, object] = {}
    for variable, (name, kind) in SMTP_ENVIRONMENT.items():
        value = os.environ.get(variable)
        if value:
            try:
                updates[name] = kind(value)
            except ValueError:
                raise ConfigError(f"{variable} must be {kind.__name__}, got {value!r}") from None
    settings = replace(settings, **updates)
    if settings.full_text not in FULL_TEXT_MODES:
        modes = ", ".join(FULL_TEXT_MODES)
        raise ConfigError(f"full_text must be one of {modes}, not {settings.full_text!r}")
    if settings.smtp_security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"smtp_security must be starttls, ssl or none, not {settings.smtp_security!r}")
    return settings


def _fits(value: object, default: object) -> bool:
    if default is None:
        return isinstance(value, str)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return type(value) is type(default)


def read_feeds(path: Path) -> list[FeedSource]:
    """Parse feeds.txt: one URL or path per line, '#' comments and blank lines ignored.

    Relative paths are resolved against the feeds file's folder, so an
    examples/feeds.txt can point at its neighbours wherever it is run from.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"feeds file not found: {path} (pass --feeds PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read feeds file {path}: {exc}") from exc
    sources: list[FeedSource] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        try:
            parts = feed_line(raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from None
        if parts is None:
            continue
        location, options = parts
        url = normalise_feed_location(location, base=path.parent)
        if url is None:
            raise ConfigError(f"{path}:{number}: not a URL or path: {location!r}")
        if url not in seen:
            seen.add(url)
            sources.append(FeedSource(url=url, line=number, full_text=options.get("full_text")))
    return sources


def feed_line(raw: str) -> tuple[str, dict[str, str]] | None:
    """A feeds.txt line: its location and its options ("URL full_text=always  # comment"), or
    None for a blank or comment line. Options are key=value words after the location."""
    if raw.lstrip().startswith("#"):
        return None
    words = raw.split(" #", 1)[0].split()
    if not words:
        return None
    options: dict[str, str] = {}
    while len(words) > 1 and OPTION_RE.match(words[-1]):  # a URL has no spaces; a path may
        key, _, value = words.pop().partition("=")
        if key != "full_text" or value not in FULL_TEXT_MODES:
            raise ConfigError(
                f"unknown feed option {key}={value} (known: full_text={'|'.join(FULL_TEXT_MODES)})"
            )
        options[key] = value
    return " ".join(words), options


def normalise_feed_location(text: str, base: Path) -> str | None:
    """http(s) and file URLs stay as they are; a path becomes an absolute file:// URL."""
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return text
    if parsed.scheme == "file":
        return text
    if parsed.scheme and len(parsed.scheme) > 1:  # ftp:, mailto: ... (a drive letter is 1 char)
        return None
    if " " in text.strip() and not Path(text).exists():
        return None
    return (base / Path(text).expanduser()).resolve().as_uri()
