from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import default_db_path, home_dir, load_settings, read_feeds
from monitor.errors import ConfigError


def test_feeds_file_skips_comments_and_blank_lines_and_resolves_paths(tmp_path: Path) -> None:
    (tmp_path / "local.xml").write_text("<rss/>")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(
        "# a comment\n\nhttps://example.org/feed.xml\n   # indented comment\n"
        "local.xml\nfile:///srv/feed.atom\nhttps://example.org/feed.xml\n"
        "https://example.org/other.rss  # trailing note\n"
    )
    sources = read_feeds(feeds)
    assert [s.url for s in sources] == [
        "https://example.org/feed.xml",
        (tmp_path / "local.xml").resolve().as_uri(),
        "file:///srv/feed.atom",
        "https://example.org/other.rss",
    ]
    assert sources[0].line == 3


def test_feeds_file_rejects_unknown_schemes(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("ftp://example.org/feed.xml\n")
    with pytest.raises(ConfigError, match=r"feeds.txt:1: not a URL or path"):
        read_feeds(feeds)


def test_missing_feeds_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="feeds file not found"):
        read_feeds(tmp_path / "nope.txt")


def test_paths_follow_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_HOME", str(tmp_path / "home"))
    assert home_dir() == tmp_path / "home"
    assert default_db_path() == tmp_path / "home" / "monitor.db"
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"


def test_settings_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[monitor]\ntimeout = 5\nconcurrency = 3\nuser_agent = "x/1"\n')
    settings = load_settings(config)
    assert (settings.timeout, settings.concurrency, settings.user_agent) == (5.0, 3, "x/1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[monitor]\ntimout = 5\n", "unknown setting 'timout'"),
        ("[monitor]\nconcurrency = 'many'\n", "concurrency must be int"),
        ("[monitor\n", "cannot read config"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)
