"""The CLI: demo, validate, overview, bench discovery."""

import json

from engine.cli import main
from engine.data.dataset import load_dataset
from engine.analysis.overview import overview
from tests.helpers import GOOD, write_folder


def test_validate_ok_prints_summary(tmp_path, capsys):
    folder = write_folder(tmp_path / "d")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{folder}: OK. 3 days (2017-01-02 to 2017-01-04), 2 stores, 2 products, 4 sales rows, 24 units sold." in out
    assert "warning: oil_price.csv, column WTI_Price: 1 days had no oil price" in out


def test_validate_bad_exits_1_with_sentences(tmp_path, capsys):
    folder = write_folder(tmp_path / "d", products=GOOD["products.csv"].replace(",2,1.89", ",0,1.89"))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "- products.csv, row 2, column LeadTime: '0' is not a positive whole number" in out
    assert main(["validate", str(folder), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and len(payload["errors"]) == 1


def test_demo_then_overview_json_matches_engine(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "d"), "--stores", "3"]) == 0
    capsys.readouterr()
    assert main(["overview", "--data", str(tmp_path / "d"), "--start", "2017-01-01", "--top", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = overview(load_dataset(tmp_path / "d"), start=__import__("datetime").date(2017, 1, 1))
    assert payload["overview"]["units"] == expected.units and payload["overview"]["stores"] == 3
    assert payload["top_stores"][0]["Store_ID"] == 44 and len(payload["top_products"]) == 2


def test_data_errors_never_print_a_traceback(tmp_path, capsys):
    assert main(["overview", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "the folder does not exist" in err


def test_data_errors_with_json_print_the_report_as_json(tmp_path, capsys):
    """A command that loads bad data with --json prints the validation report as JSON (the CLI's own handler)."""
    folder = write_folder(tmp_path / "d", products=GOOD["products.csv"].replace(",2,1.89", ",0,1.89"))
    assert main(["overview", "--data", str(folder), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert any("LeadTime" in str(e) for e in payload["errors"])


def test_sales_trend_per_day_makes_partial_weeks_comparable(tmp_path):
    import datetime as dt

    from engine.analysis.overview import sales_trend

    ds = load_dataset(write_folder(tmp_path / "d"))
    weekly = sales_trend(ds, every="1w")
    # 2017-01-02 is a Monday: one weekly bucket of 3 days with 24 units
    assert weekly.rows() == [(dt.date(2017, 1, 2), 3, 24.0, weekly["Value"][0], 8.0)]
    daily = sales_trend(ds, every="1d")
    assert daily["Qty"].to_list() == [15.0, 7.0, 2.0] and daily["Qty_per_day"].to_list() == [15.0, 7.0, 2.0]
