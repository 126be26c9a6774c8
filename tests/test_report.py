"""`python -m engine report`: the PDF (pages, text, fonts, page 1 renders) carries the numbers that --json prints,
and those equal the forecasting and inventory engines computed here. Lean: cheap models, one or two monthly windows."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.report.text import STRINGS, fmt_qty, fmt_rmse

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-store44-dev"
REAL = REAL if REAL.is_dir() else Path("/work/shared/real-store44-dev")
CHEAP = "weekday_mean4"
POPPLER = all(shutil.which(x) for x in ("pdfinfo", "pdftotext", "pdffonts", "pdftoppm"))
IN_CI = bool(os.environ.get("CI"))  # CI installs everything (make test): there a missing tool must fail, not skip
needs_poppler = pytest.mark.skipif(not POPPLER and not IN_CI, reason="poppler-utils (pdfinfo, pdftotext, pdffonts, pdftoppm) is not installed")


def _run(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _page1_png(pdf: Path, tmp: Path) -> Path:
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp / "page")], check=True, capture_output=True)
    pngs = sorted(tmp.glob("page*.png"))
    assert len(pngs) == 1
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pngs[0].stat().st_size > 5_000
    return pngs[0]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report-models")


@needs_poppler
def test_demo_report_pdf_carries_the_cli_numbers_and_they_equal_the_engines(demo_dir, demo, models_dir, tmp_path, capsys):
    from engine.forecasting import run_forecast
    from engine.inventory import evaluate_policy

    out = tmp_path / "report.pdf"
    argv = ["report", "--data", str(demo_dir), "--store", "44", "--products", "3,42", "--windows", "2017-02..2017-03", "--models", CHEAP,
            "--inventory-model", CHEAP, "--models-dir", str(models_dir), "--out", str(out), "--json"]
    numbers = _run(capsys, argv)
    assert 3 <= _pages(out) <= 4
    text = _text(out)
    _page1_png(out, tmp_path)
    assert numbers["windows"] == [{"start": "2017-02-01", "end": "2017-02-28"}, {"start": "2017-03-01", "end": "2017-03-31"}]
    assert "python -m engine report" in numbers["command"] and "--windows 2017-02..2017-03" in numbers["command"]
    assert numbers["command"].split()[:4] == ["python", "-m", "engine", "report"] and "--windows" in text

    # forecasting: pooled over the two windows, from run_forecast's own predictions
    runs = [run_forecast(demo, 44, [3, 42], s, e, models=CHEAP, models_dir=models_dir)
            for s, e in ((dt.date(2017, 2, 1), dt.date(2017, 2, 28)), (dt.date(2017, 3, 1), dt.date(2017, 3, 31)))]
    for i, fp in enumerate(numbers["forecast"]["products"]):
        preds = pl.concat([r[i].predictions for r in runs])
        err = (preds["actual"] - preds["forecast"]).to_numpy()
        row = next(m for m in fp["models"] if m["model"] == CHEAP)
        assert row["rmse"] == pytest.approx(math.sqrt(np.mean(err ** 2)))
        assert row["wape"] == pytest.approx(np.abs(err).sum() / preds["actual"].abs().sum())
        assert row["mase"] == pytest.approx((28 * runs[0][i].metrics["mase"] + 31 * runs[1][i].metrics["mase"]) / 59)
        assert fp["chosen"]["rmse"] == pytest.approx(row["rmse"]) and fp["chosen"]["picked"] == {"2017-02-01": CHEAP, "2017-03-01": CHEAP}
        assert len(fp["series"]) == 59 and {t["test"] for t in fp["residual_tests"]} == {"Shapiro-Wilk", "ADF", "Ljung-Box"}
        assert fmt_rmse(row["rmse"]) in text

    # inventory: the same numbers as `python -m engine inventory --json` over the span of the windows
    inv = {p["policy"]: p for p in numbers["inventory"]["policies"]}
    cli = _run(capsys, ["inventory", "--data", str(demo_dir), "--store", "44", "--products", "3,42", "--test-start", "2017-02-01",
                        "--test-end", "2017-03-31", "--safety-stock", "service-level:0.99", "--form", "sheet", "--model", CHEAP,
                        "--models-dir", str(models_dir), "--json"])
    hind = evaluate_policy(demo, 44, [3, 42], dt.date(2017, 2, 1), dt.date(2017, 3, 31), "min-zero-loss", model=CHEAP, models_dir=models_dir)
    for got, want, h, b, gh in zip(inv["honest"]["products"], cli["results"], hind.products, inv["bound"]["products"], inv["hindsight"]["products"]):
        assert got["avg_inventory_value"] == pytest.approx(want["avg_inventory_value"])
        assert got["lost_qty"] == pytest.approx(want["lost_qty"]) and got["fill_rate"] == pytest.approx(want["fill_rate"])
        assert b["avg_inventory_value"] == pytest.approx(want["bound_avg_inventory_value"])
        assert gh["avg_inventory_value"] == pytest.approx(h.kpis["avg_inventory_value"]) and gh["lost_qty"] == 0
        assert fmt_qty(got["avg_inventory_value"]) in text
    assert inv["honest"]["total"]["avg_inventory_value"] == pytest.approx(cli["total"]["avg_inventory_value"])
    assert inv["hindsight"]["total"]["lost_qty"] == 0
    # page 4: rules, one sentence each, each one in the PDF
    assert numbers["next_steps"] and all(s["text"].split()[0] in text for s in numbers["next_steps"])
    assert any(s["rule"] == "windows" for s in numbers["next_steps"])  # two windows: the report says the evidence is thin


@needs_poppler
def test_korean_report_has_hangul_headings_and_an_embedded_korean_font(demo_dir, models_dir, tmp_path, capsys):
    from engine.report.fonts import KOREAN_REGULAR

    if not KOREAN_REGULAR.is_file() and not IN_CI:
        pytest.skip(f"{KOREAN_REGULAR} is missing (Debian package fonts-nanum)")
    out = tmp_path / "report_ko.pdf"
    assert main(["report", "--data", str(demo_dir), "--products", "3", "--windows", "2017-03", "--lang", "ko", "--models", CHEAP,
                 "--inventory-model", CHEAP, "--models-dir", str(models_dir), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert 3 <= _pages(out) <= 4
    text = _text(out)
    for key in ("title", "h1", "h2", "h3", "h4"):
        assert STRINGS["ko"][key] in text, key
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    embedded_korean = [f for f in fonts if "Nanum" in f.split()[0] and f.split()[-5] == "yes"]
    assert embedded_korean, fonts
    _page1_png(out, tmp_path)


@needs_poppler
@pytest.mark.skipif(not REAL.is_dir() and not IN_CI, reason="the real store-44 development data is not on this machine")
def test_real_store44_report(tmp_path, capsys):
    data = tmp_path / "data" / "current"
    shutil.copytree(REAL, data)
    out = tmp_path / "real.pdf"
    numbers = _run(capsys, ["report", "--data", str(data), "--products", "3", "--windows", "2016-12", "--models", CHEAP,
                            "--inventory-model", CHEAP, "--out", str(out), "--json"])
    assert 3 <= _pages(out) <= 4
    text = _text(out)
    _page1_png(out, tmp_path)
    fp = numbers["forecast"]["products"][0]
    series = pl.DataFrame(fp["series"])
    assert series["date"].to_list()[0] == "2016-12-01" and series.height == 31
    err = (series["actual"] - series["forecast"]).to_numpy()
    assert fp["chosen"]["rmse"] == pytest.approx(math.sqrt(np.mean(err ** 2)))
    assert fmt_rmse(fp["chosen"]["rmse"]) in text
    honest = numbers["inventory"]["policies"][0]["products"][0]
    assert fmt_qty(honest["avg_inventory_value"]) in text
    # the data checks: the filled oil days of the data period, counted here from the raw file
    raw = pl.read_csv(REAL / "oil_price.csv", try_parse_dates=True).drop_nulls("WTI_Price")
    days = pl.date_range(dt.date(2013, 1, 31), dt.date(2016, 12, 31), eager=True)
    assert numbers["data"]["filled_oil_days"] == int((~days.is_in(raw["Date"].implode())).sum())
    assert numbers["data"]["warnings"] and all(w.split(",")[0] in text for w in numbers["data"]["warnings"])
    # seasonality strengths are the decomposition's
    from engine.analysis.decomposition import decompose
    from engine.data.dataset import load_dataset

    assert numbers["patterns"][0]["weekly_strength"] == pytest.approx(decompose(load_dataset(data), 44, 3, period=7).seasonal_strength)
    assert (data.parent / "state" / "models").is_dir()  # models were saved beside the copy, never beside the shared folder


def test_windows_parse_and_errors_are_one_sentence():
    from engine.report.windows import default_windows, parse_windows, windows_text

    start, end = dt.date(2014, 1, 1), dt.date(2017, 3, 31)
    months = parse_windows("2016-11..2017-01", start, end)
    assert months == [(dt.date(2016, 11, 1), dt.date(2016, 11, 30)), (dt.date(2016, 12, 1), dt.date(2016, 12, 31)),
                      (dt.date(2017, 1, 1), dt.date(2017, 1, 31))]
    assert windows_text(months) == "2016-11..2017-01"
    assert parse_windows("2016-02", start, end) == [(dt.date(2016, 2, 1), dt.date(2016, 2, 29))]
    assert parse_windows("2017-03-01..2017-03-14", start, end) == [(dt.date(2017, 3, 1), dt.date(2017, 3, 14))]
    assert default_windows(dt.date(2017, 3, 31)) == parse_windows("2017-01..2017-03", start, end)
    assert default_windows(dt.date(2017, 3, 30)) == parse_windows("2016-12..2017-02", start, end)
    for bad in ("2017-13", "July", "2017-03..2017-05", "2017-03-10..2017-03-01"):
        with pytest.raises(ValueError) as exc:
            parse_windows(bad, start, end)
        assert exc.value.args[0].count(". ") == 0 and exc.value.args[0].endswith(".")


def test_report_cli_errors_are_one_sentence(tmp_path, capsys):
    from tests.helpers import write_folder

    data = write_folder(tmp_path / "data")
    assert main(["report", "--data", str(data), "--windows", "2018-01", "--out", str(tmp_path / "x.pdf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the window 2018-01-01..2018-01-31 lies outside the data (2017-01-02 to 2017-01-04)") and "Traceback" not in err
    assert main(["report", "--data", str(data), "--products", "3,x", "--windows", "2017-01-02..2017-01-03"]) == 2
    assert capsys.readouterr().err.strip() == "error: --products must be product ids separated by commas (e.g. 3,12,42), not '3,x'."
    assert not (tmp_path / "x.pdf").exists() and not Path("report.pdf").exists()


def _report(skill_wape=0.2, base_wape=0.25, fill=0.995, ljung=True, coverage=0.8, oil_stable=False, windows=3) -> dict:
    fp = {"product": 3, "baseline": CHEAP, "skill_vs_baseline": 1 - skill_wape / base_wape, "chosen": {"wape": skill_wape},
          "models": [{"model": CHEAP, "wape": base_wape}], "band": {"coverage": coverage},
          "residual_tests": [{"test": "Ljung-Box", "passed": ljung}, {"test": "Shapiro-Wilk", "passed": True}]}
    pol = {"total": {"fill_rate": fill, "avg_inventory_value": 1000.0, "ratio_to_bound": 2.0}}
    return {"forecast": {"products": [fp]}, "windows": [{}] * windows, "data": {"filled_oil_days": 0},
            "inventory": {"policies": [{"policy": "honest", "setting": "service-level:0.99", **pol},
                                       {"policy": "hindsight", "setting": "min-zero-loss", "total": {"avg_inventory_value": 600.0}}]},
            "patterns": [{"product": 3, "payday": {"p_value": 0.5, "lift_pct": 1.0}, "holiday": {"p_value": 0.5},
                          "oil": {"stable": oil_stable}, "customers": {"stable": False, "r": 0.1}}]}


def test_next_steps_follow_the_numbers():
    from engine.report.rules import next_steps

    good = {s["rule"]: s["text"] for s in next_steps(_report())}
    assert good["forecast_skill"].startswith("Product 3: the chosen models beat the weekday-mean baseline by 20.0%")
    assert "fill rate of 99.5%" in good["fill_rate"] and "roll it out" in good["fill_rate"]
    assert "from 1,000 to 600 (40% less)" in good["hindsight_gap"]
    assert "leave it out" in good["oil"] and "band_coverage" not in good and "residual_pattern" not in good and "windows" not in good
    bad = {s["rule"]: s["text"] for s in next_steps(_report(skill_wape=0.3, fill=0.97, ljung=False, coverage=0.5, oil_stable=True, windows=1))}
    assert "do not beat the weekday-mean baseline (WAPE 30.0% vs 25.0%)" in bad["forecast_skill"]
    assert "only 97.0% (target 99.0%)" in bad["fill_rate"]
    assert "product(s) 3" in bad["residual_pattern"] and "only 50%" in bad["band_coverage"] and "product(s) 3" in bad["oil"]
    assert "Only 1 evaluation window" in bad["windows"]
    tie = {s["rule"]: s["text"] for s in next_steps(_report(skill_wape=0.252))}
    assert "about equal (WAPE 25.2% vs 25.0%)" in tie["forecast_skill"]
    ko = next_steps(_report(skill_wape=0.3), "ko")
    assert any("기준 모델을 이기지 못합니다" in s["text"] for s in ko)


def test_inventory_page_offers_the_report_for_its_store_products_and_period(fresh_data):
    from streamlit.testing.v1 import AppTest

    page = str(Path(__file__).resolve().parent.parent / "pages" / "4_Inventory.py")
    at = AppTest.from_file(page, default_timeout=300)
    at.run()
    at.multiselect(key="products").set_value([3])
    at.date_input(key="period").set_value((dt.date(2017, 3, 1), dt.date(2017, 3, 14)))
    at.selectbox(key="model").set_value(CHEAP)
    at.run()
    assert not [b for b in at.get("download_button") if b.label.startswith("Download the pilot report")]  # only after Simulate
    at.button(key="simulate").click().run()
    assert not at.exception and not at.error
    buttons = [b for b in at.get("download_button") if b.label == "Download the pilot report (PDF)"]
    assert len(buttons) == 1 and buttons[0].proto.deferred_file_id  # the PDF is built when clicked, by pilot_report
