"""AppTest: the Home page shows the engine's numbers, filters by period, and uploads safely."""

import datetime as dt

import polars as pl
from streamlit.testing.v1 import AppTest

from engine.data.dataset import load_dataset
from engine.analysis.overview import overview, top_stores
from engine.data.storage import list_backups
from tests.conftest import ROOT
from tests.helpers import GOOD, write_folder


def _home():
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120).run()


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_home_kpis_match_the_engine_and_follow_the_period(fresh_data):
    ds = load_dataset(fresh_data)
    at = _home()
    assert not at.exception
    full = overview(ds)
    m = _metrics(at)
    assert m["Stores · products"] == "54 · 24" and m["Period"] == "1,186 days"
    assert at.dataframe[0].value["Store_ID"].iloc[0] == top_stores(ds)["Store_ID"][0] == 44
    at.slider(key="period").set_value((dt.date(2017, 1, 1), dt.date(2017, 3, 31))).run()
    q1 = overview(ds, dt.date(2017, 1, 1), dt.date(2017, 3, 31))
    m = _metrics(at)
    assert m["Period"] == "90 days" and m["Units sold"] == f"{q1.units / 1e6:.1f} M" != f"{full.units / 1e6:.1f} M"
    assert "fingerprint" in at.success[0].value
    state = fresh_data.parent / "state"  # the demo copy is writable: its state is kept beside it
    assert f"Orders, models and the Ask index are kept in {state} (beside the data)." in [c.value for c in at.caption]
    assert any("days had no oil price" in md.value for md in at.markdown)  # the warnings are listed


def test_kpi_tiles_are_compact_with_the_exact_figure_in_the_tooltip(fresh_data):
    """Computed here from the files with polars, not through the engine: the chain's totals over all days."""
    sales = pl.read_csv(fresh_data / "sales.csv", schema_overrides={"Qty": pl.Float64})
    prices = pl.read_csv(fresh_data / "products.csv").select("Product_ID", "Price")
    units = sales["Qty"].sum()
    value = sales.join(prices, on="Product_ID")["Qty"].dot(sales.join(prices, on="Product_ID")["Price"])
    days = (dt.date.fromisoformat(sales["Date"].max()) - dt.date.fromisoformat(sales["Date"].min())).days + 1
    assert 1e8 <= units < 1e9 and 1e9 <= value < 1e10 and 1e5 <= units / days < 1e6  # the demo's sizes
    tiles = {m.label: m for m in _home().metric}
    assert tiles["Units sold"].value == f"{units / 1e6:.1f} M"  # e.g. 515.4 M
    assert tiles["Units sold"].help == f"{units:,.0f} units"
    assert tiles["Sales value"].value == f"${value / 1e9:.2f} B"  # e.g. $1.53 B
    assert tiles["Sales value"].help == f"${value:,.2f}"
    assert tiles["Units per day"].value == f"{units / days / 1e3:.1f} K"
    assert tiles["Units per day"].help == f"{round(units / days, 2):,.2f} units per day"


def test_bad_upload_shows_sentences_and_keeps_the_data(fresh_data):
    before = (fresh_data / "sales.csv").read_bytes()
    at = _home()
    files = [(name, text.encode(), "text/csv") for name, text in GOOD.items() if name != "sales.csv"]
    files.append(("sales.csv", b"Date,Store_ID,Qty,Product_ID\n2017-01-02,44,-5,3\n", "text/csv"))
    at.file_uploader(key="upload").set_value(files).run()
    at.button(key="replace").click().run()
    assert not at.exception
    texts = [md.value for md in at.markdown]
    assert any("sales.csv, row 2, column Qty: '-5' is negative" in t for t in texts)
    assert "Nothing was changed" in at.warning[0].value
    assert (fresh_data / "sales.csv").read_bytes() == before and list_backups() == []
    assert _metrics(at)["Stores · products"] == "54 · 24"


def test_good_upload_replaces_data_and_keeps_backup(fresh_data, tmp_path):
    small = write_folder(tmp_path / "small")
    at = _home()
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(small.iterdir())]
    at.file_uploader(key="upload").set_value(files).run()
    at.button(key="replace").click().run()
    assert not at.exception
    assert _metrics(at)["Stores · products"] == "2 · 2" and _metrics(at)["Units sold"] == "24"
    assert len(list_backups()) == 1 and (list_backups()[0] / "sales.csv").stat().st_size > 1_000_000
