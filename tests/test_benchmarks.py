"""The README's performance table is generated from benchmarks/results.json, never edited by hand."""

from __future__ import annotations

import importlib.util
import json
import sys

from tests.conftest import ROOT


def test_the_readme_performance_table_is_the_committed_results() -> None:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run  # dataclasses look their module up there
    spec.loader.exec_module(run)
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    shown = readme.split(run.START)[1].split(run.END)[0].strip()
    assert shown == run.table(results).strip(), "run `make bench` (or `benchmarks/run.py --readme`) again"
    for row in run.ROWS:  # every figure the table names is in the results
        row.value(results)
