"""evaluate_policy on the demo data: the rules hold day by day, the bound, no look-ahead in the service level."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import polars as pl
import pytest

from engine.inventory import compare_policies, evaluate_policy
from engine.inventory.forecasts import VALIDATION_DAYS, lead_window

START, END = dt.date(2017, 3, 1), dt.date(2017, 3, 14)
CHEAP = "weekday_mean4"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.mktemp("inventory_models")


def test_days_follow_the_rules_and_kpis_match_them(demo, models):
    r = evaluate_policy(demo, 44, [3, 5], START, END, "service-level:0.99", form="constant", model=CHEAP, models_dir=models)
    assert [p.product for p in r.products] == [3, 5]
    for p in r.products:
        d = p.days
        assert d["date"].to_list() == [START + dt.timedelta(days=i) for i in range(14)]
        L = demo.lead_time(p.product)
        assert p.lead_time == L
        opening, closing, sold, lost = (d[c].to_numpy() for c in ("opening", "closing", "sold", "lost"))
        assert np.allclose(opening[1:], closing[:-1] + d["arrivals"].to_numpy()[1:])
        assert np.allclose(sold, np.minimum(d["demand"].to_numpy(), opening))
        assert np.allclose(lost + sold, d["demand"].to_numpy())
        assert np.allclose(closing, opening - sold)
        # an order placed on day t arrives on t + L
        assert np.allclose(d["arrivals"].to_numpy()[L:], d["order"].to_numpy()[:-L])
        # the demand is the sales table's Qty for those days
        qty = (demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == p.product) & pl.col("Date").is_between(START, END))
               .sort("Date")["Qty"].to_numpy())
        assert d["demand"].sum() == pytest.approx(qty.sum())
        avg = float(((opening + closing) / 2).mean())
        assert p.kpis["avg_stock_qty"] == pytest.approx(avg)
        assert p.kpis["avg_inventory_value"] == pytest.approx(avg * demo.price(p.product) * 0.5)
        assert p.bound["avg_stock_qty"] == pytest.approx(d["demand"].mean() / 2)
        assert p.ratio_to_bound == pytest.approx(avg / (d["demand"].mean() / 2))
        assert p.plan.method == "service-level" and p.plan.form == "constant"
    t = r.total
    assert t["avg_inventory_value"] == pytest.approx(sum(p.kpis["avg_inventory_value"] for p in r.products))
    assert t["ratio_to_bound"] == pytest.approx(t["avg_inventory_value"] / sum(p.bound["avg_inventory_value"] for p in r.products))
    out = r.to_dict()
    assert {"store", "product", "safety_stock", "safety_form", "avg_stock_qty", "avg_inventory_value", "turnover", "lost_qty",
            "fill_rate", "bound_avg_stock_qty", "ratio_to_bound", "days"} <= set(out["results"][0])
    assert set(out["results"][0]["days"][0]) >= {"date", "opening", "arrivals", "sold", "lost", "closing", "order"}


def test_hindsight_minimum_loses_nothing_and_one_unit_less_loses(demo, models):
    r = evaluate_policy(demo, 44, [3], START, END, "min-zero-loss", form="constant", model=CHEAP, models_dir=models)
    p = r.products[0]
    assert p.kpis["lost_qty"] == 0 and p.kpis["fill_rate"] == 1.0
    assert p.ratio_to_bound >= 1.0  # nothing beats perfect foresight at zero loss
    assert "hindsight" in p.plan.label and "uses the future" in p.plan.label
    less = evaluate_policy(demo, 44, [3], START, END, str(p.plan.parameter - 1), model=CHEAP, models_dir=models).products[0]
    assert less.kpis["lost_qty"] > 0


def test_service_level_uses_no_test_window_data(demo_dir, tmp_path):
    """Corrupt the test window's sales: the service-level safety stock must not move (the hindsight one does)."""
    from engine.data.dataset import load_dataset

    bad = tmp_path / "bad" / "current"
    shutil.copytree(demo_dir, bad)
    sales = pl.read_csv(bad / "sales.csv", try_parse_dates=True)
    sales = sales.with_columns(pl.when(pl.col("Date").is_between(START, END)).then(pl.col("Qty") * 3 + 7).otherwise(pl.col("Qty")).alias("Qty"))
    sales.write_csv(bad / "sales.csv")
    good_ds, bad_ds = load_dataset(demo_dir), load_dataset(bad)
    plans = []
    for ds, folder in ((good_ds, tmp_path / "m1"), (bad_ds, tmp_path / "m2")):  # separate model folders: nothing reused
        r = evaluate_policy(ds, 44, [3], START, END, "service-level:0.99", form="best", model=CHEAP, models_dir=folder)
        h = evaluate_policy(ds, 44, [3], START, END, "min-zero-loss", form="constant", model=CHEAP, models_dir=folder)
        plans.append((r.products[0].plan, h.products[0].plan, r.products[0].days))
    (sl_good, h_good, days_good), (sl_bad, h_bad, days_bad) = plans
    assert days_bad["demand"].sum() > days_good["demand"].sum()  # the corruption reached the simulation
    assert (sl_good.form, sl_good.parameter, sl_good.profile, sl_good.estimator) == (sl_bad.form, sl_bad.parameter, sl_bad.profile, sl_bad.estimator)
    assert h_good.parameter != h_bad.parameter


def test_forecasts_come_from_models_trained_before_the_validation_days(demo, models):
    lw = lead_window(demo, 44, 3, START, END, model=CHEAP, models_dir=models)
    assert lw.dates[0] == START - dt.timedelta(days=demo.lead_time(3) + 1 + VALIDATION_DAYS)
    assert lw.dates[lw.first] == START and lw.dates[-1] == END
    meta = [p for p in models.iterdir() if p.name.startswith(f"s44_p3_{CHEAP}_{lw.dates[0]}")]
    assert meta, "the model was trained with the validation start as its training end"


def test_compare_policies_rows(demo, models):
    table = compare_policies(demo, 44, [3], START, END, fixed=500, levels=(0.95, 0.99), form="constant", model=CHEAP, models_dir=models)
    assert table["policy"].to_list() == ["fixed 500 units", "hindsight minimum (uses the future)", "service level 95%", "service level 99%"]
    hind = table.filter(pl.col("policy").str.starts_with("hindsight"))
    assert hind["lost_qty"][0] == 0
    single = evaluate_policy(demo, 44, [3], START, END, "service-level:0.99", form="constant", model=CHEAP, models_dir=models).total
    assert table["avg_inventory_value"][3] == pytest.approx(single["avg_inventory_value"])


def test_errors_are_sentences(demo, models):
    with pytest.raises(ValueError, match="after the last day of data"):
        evaluate_policy(demo, 44, [3], START, dt.date(2017, 5, 1), model=CHEAP, models_dir=models)
    with pytest.raises(ValueError, match="too little history"):
        evaluate_policy(demo, 44, [3], dt.date(2014, 6, 1), dt.date(2014, 6, 10), model=CHEAP, models_dir=models)
    with pytest.raises(ValueError, match="no sales"):
        evaluate_policy(demo, 999, [3], START, END, model=CHEAP, models_dir=models)
    with pytest.raises(ValueError, match="pack size"):
        evaluate_policy(demo, 44, [3], START, END, pack_size=0, model=CHEAP, models_dir=models)


def test_the_sheet_form_sizes_each_evening_from_that_evening_only(demo_dir, tmp_path):
    """Form sheet replays the order sheet's rule: corrupt the sales after one evening of the window, and every
    evening up to it keeps its safety stock and its order; later evenings see the new sales."""
    from engine.data.dataset import load_dataset

    cut = START + dt.timedelta(days=6)
    bad = tmp_path / "bad" / "current"
    shutil.copytree(demo_dir, bad)
    sales = pl.read_csv(bad / "sales.csv", try_parse_dates=True)
    sales.with_columns(pl.when(pl.col("Date") > cut).then(pl.col("Qty") * 3 + 7).otherwise(pl.col("Qty")).alias("Qty")).write_csv(bad / "sales.csv")
    days = []
    for ds, folder in ((load_dataset(demo_dir), tmp_path / "m1"), (load_dataset(bad), tmp_path / "m2")):
        r = evaluate_policy(ds, 44, [3], START, END, "service-level:0.99", form="sheet", model=CHEAP, models_dir=folder)
        assert r.form == "sheet" and r.products[0].plan.form == "daily"
        assert r.products[0].plan.label.startswith("the order sheet's rule, on average the P")
        d = r.products[0].days
        assert d["safety_stock"].n_unique() > 1  # set each evening, not one constant
        days.append(d)
    good, worse = days
    early = pl.col("date") <= cut
    assert good.filter(early)["safety_stock"].to_list() == worse.filter(early)["safety_stock"].to_list()
    assert good.filter(early)["order"].to_list() == worse.filter(early)["order"].to_list()
    assert good.filter(~early)["safety_stock"].to_list() != worse.filter(~early)["safety_stock"].to_list()
    # the hindsight minimum has no evening-by-evening form: it stays one constant searched on the window
    h = evaluate_policy(load_dataset(demo_dir), 44, [3], START, END, "min-zero-loss", form="sheet", model=CHEAP, models_dir=tmp_path / "m1")
    assert h.products[0].plan.form == "constant" and h.products[0].kpis["lost_qty"] == 0


def test_the_sheet_form_retrains_before_each_month_of_a_longer_window(demo, tmp_path):
    from engine.forecasting import lead_window_forecasts
    from engine.inventory.evaluate import month_chunks
    from engine.inventory.forecasts import store_view

    start, end = dt.date(2017, 2, 20), dt.date(2017, 3, 8)
    assert month_chunks(start, end) == [(start, dt.date(2017, 2, 28)), (dt.date(2017, 3, 1), end)]
    r = evaluate_policy(demo, 44, [3], start, end, "service-level:0.99", form="sheet", model=CHEAP, models_dir=tmp_path)
    L = demo.lead_time(3)
    warm = [a - dt.timedelta(days=L + 1) for a in (start, dt.date(2017, 3, 1))]
    assert {m.name.split("_")[4] for m in tmp_path.glob(f"s44_p3_{CHEAP}_*")} >= {str(w) for w in warm}
    days = r.products[0].days
    assert days["date"].to_list() == [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    # March's lead-window forecasts are those of the model trained before March's warm-up evening
    march = lead_window_forecasts(store_view(demo, 44), 44, 3, warm[1], end, model=CHEAP, models_dir=tmp_path)
    want = march.filter(pl.col("order_date") >= dt.date(2017, 3, 1)).group_by("order_date").agg(pl.col("forecast").sum()).sort("order_date")
    got = days.filter(pl.col("date") >= dt.date(2017, 3, 1))["lead_forecast"].to_list()
    assert got == pytest.approx(want["forecast"].to_list())
    # the stock carries over from February into March: March 1 opens with February 28's closing stock
    feb28, mar1 = days.filter(pl.col("date") == dt.date(2017, 2, 28)).row(0, named=True), days.filter(pl.col("date") == dt.date(2017, 3, 1)).row(0, named=True)
    assert mar1["opening"] == pytest.approx(feb28["closing"] + mar1["arrivals"])
