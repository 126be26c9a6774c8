"""`python -m engine explore ...` prints the same numbers as the engine functions the page calls."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.analysis.decomposition import decompose
from engine.analysis.diagnostics import series_diagnostics
from engine.analysis.factors import factor_analysis
from engine.analysis.patterns import patterns

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "explore", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_json_matches_engine(demo_dir, demo):
    import datetime as dt

    out = cli("patterns", "--data", str(demo_dir), "--store", "44", "--product", "42", "--start", "2016-01-01", "--end", "2016-06-30", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    p = patterns(demo, 44, 42, dt.date(2016, 1, 1), dt.date(2016, 6, 30))
    assert got["weekday_verdict"] == p.weekday_verdict
    assert [r["mean_qty"] for r in got["weekday"]] == pytest.approx(p.weekday["mean_qty"].to_list())

    out = cli("factors", "--data", str(demo_dir), "--product", "all", "--target", "customers", "--json")
    got = json.loads(out.stdout)
    fa = factor_analysis(demo, 44, None, target="customers")
    assert [f["r_best"] for f in got["factors"]] == pytest.approx(fa.summary()["r_best"].to_list())

    out = cli("diagnostics", "--data", str(demo_dir), "--product", "12", "--of", "changes", "--json")
    got = json.loads(out.stdout)
    d = series_diagnostics(demo, 44, 12, of="changes")
    assert [t["p_value"] for t in got["tests"]] == pytest.approx([t.p_value for t in d.tests])


def test_cli_text_and_clear_errors(demo_dir, demo):
    out = cli("decompose", "--data", str(demo_dir), "--method", "classical")
    assert out.returncode == 0 and out.stdout.splitlines()[0] == decompose(demo, 44, 3, method="classical").verdict
    bad = cli("decompose", "--data", str(demo_dir), "--store", "999")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: store 999 has no sales in the data; pick one of the stores in the list."
    short = cli("decompose", "--data", str(demo_dir), "--period", "yearly", "--start", "2017-01-01")
    assert short.returncode == 2 and "needs two full years" in short.stderr and "Traceback" not in short.stderr


def test_bench_explore_reports_every_page_computation(demo_dir):
    import argparse

    from engine.bench import explore

    rows = explore.run(argparse.Namespace(data=str(demo_dir), store=44, product=3, repeat=1))
    names = [r["computation"] for r in rows]
    assert "decompose STL weekly" in names and "diagnostics of STL residual" in names and "factors (lags 0-14, rolling 90)" in names
    total = rows[-1]
    assert total["computation"] == "all sections (new store/product)" and total["target_s"] == 2.0
    parts = {(r["computation"], r["window"]): r["median_s"] for r in rows[:-1]}
    expected = sum(parts[(name, "whole")] for name in ("sales series", "decompose STL weekly", "patterns", "factor frame (per store/product)",
                                                       "factors (lags 0-14, rolling 90)", "diagnostics of STL residual"))
    assert total["median_s"] == pytest.approx(expected)
    assert total["met"] == ("yes" if expected < 2.0 else "NO")
