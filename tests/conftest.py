from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.config import Settings, default_models_dir
from monitor.language.classify import ClaimClassifier
from monitor.language.extract import SentenceExtractor, build_nlp

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real data directory or config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MONITOR_HOME", str(home))
    for name in ("MONITOR_DB", "MONITOR_FEEDS", "MONITOR_CONFIG", "MONITOR_MODELS"):
        monkeypatch.delenv(name, raising=False)
    # Every test feed lives on one local server: no need to space requests out politely.
    (home / "config.toml").write_text("[monitor]\nhost_delay = 0\n")


@pytest.fixture(scope="session")
def classifier() -> ClaimClassifier:
    return ClaimClassifier.load(default_models_dir())


@pytest.fixture(scope="session")
def extractor() -> SentenceExtractor:
    return SentenceExtractor(build_nlp())


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A local server that answers requests in parallel (the default one answers one at a time,
    so a slow response would hold up every other)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def settings() -> Settings:
    return Settings(timeout=2.0, concurrency=4, host_delay=0)
