"""The example feeds parse and extract exactly as recorded in tests/data/expected.

A failure here means behaviour changed: if the change is intended, regenerate with
`.venv/bin/python -m tests.expectations` and review the diff before committing.
"""

from __future__ import annotations

import json

import pytest

from monitor.language.extract import SentenceExtractor
from tests.expectations import FEEDS, PAGES, describe, describe_page, expected_path


@pytest.mark.parametrize("name", FEEDS)
def test_example_feed_matches_expectation(name: str, extractor: SentenceExtractor) -> None:
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert describe(name, extractor) == expected


@pytest.mark.parametrize("name", PAGES)
def test_example_page_matches_expectation(name: str, extractor: SentenceExtractor) -> None:
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert describe_page(name, extractor) == expected
