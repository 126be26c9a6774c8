"""`python -m engine ledger` and `python -m engine confirm`: the page's engine functions from the command line."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from engine.cli import main
from engine.ordering.ledger import OrderLedger, default_ledger_path

D = dt.date(2017, 3, 15)


def test_ledger_prints_the_history_as_json_table_and_csv(fresh_data, capsys):
    ledger = OrderLedger(default_ledger_path(fresh_data))
    ledger.confirm(44, D, [{"product": 3, "recommended": 10, "final": 10}, {"product": 12, "recommended": 8, "final": 12, "reason": "school fair"}], "a")
    ledger.confirm(44, D, [{"product": 3, "recommended": 10, "final": 11}], "b", confirmed_by="lee")
    ledger.confirm(45, D, [{"product": 3, "recommended": 4, "final": 4}], "c")

    assert main(["ledger", "--data", str(fresh_data), "--store", "44", "--date", "2017-03-15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ledger"] == str(ledger.path)
    assert [c["version"] for c in out["confirmations"]] == [2, 1]
    assert [(x["version"], x["product_id"], x["final_qty"], x["reason"]) for x in out["lines"]] == [
        (2, 3, 11.0, None), (1, 3, 10.0, None), (1, 12, 12.0, "school fair")]
    assert out["lines"][0]["confirmed_by"] == "lee" and out["lines"][0]["order_date"] == "2017-03-15"

    assert main(["ledger", "--data", str(fresh_data)]) == 0  # all stores, table form
    text = capsys.readouterr().out
    assert text.startswith(f"{ledger.path}: 3 confirmation(s), newest first") and "school fair" in text

    assert main(["ledger", "--data", str(fresh_data), "--store", "45", "--csv"]) == 0
    csv = pl.read_csv(capsys.readouterr().out.encode())
    assert csv["store_id"].to_list() == [45] and csv["final_qty"].to_list() == [4.0]

    assert main(["ledger", "--data", str(fresh_data), "--store", "46"]) == 0
    assert capsys.readouterr().out.startswith("No confirmed orders for store 46 in ")
    assert main(["ledger", "--data", str(fresh_data), "--date", "15.03.2017"]) == 2
    assert "--date must be a date written YYYY-MM-DD" in capsys.readouterr().err


def test_ledger_on_a_file_that_is_not_a_database_is_one_sentence(fresh_data, capsys):
    path = default_ledger_path(fresh_data)
    path.write_bytes(b"\x00not sqlite" * 100)
    assert main(["ledger", "--data", str(fresh_data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: The order ledger {path} is not a SQLite database") and err.count("\n") == 1
    assert path.read_bytes() == b"\x00not sqlite" * 100


@pytest.fixture
def loaded_once(fresh_data, monkeypatch):
    """The CLI loads the data folder once per command; here every command gets the same loaded object, so the
    engine's in-process forecast cache is shared (speed only: same folder, same data)."""
    import engine.data.dataset

    loaded = {}
    real = engine.data.dataset.load_dataset

    def load(folder):
        key = str(folder)
        if key not in loaded:
            loaded[key] = real(folder)
        return loaded[key]

    import engine.commands.inventory
    import engine.commands.ledger

    for module in (engine.data.dataset, engine.commands.inventory, engine.commands.ledger):
        monkeypatch.setattr(module, "load_dataset", load)  # patched where the commands call it
    return load


def test_confirm_writes_the_recomputed_sheet_with_the_given_changes(fresh_data, loaded_once, capsys):
    from engine.ordering.sheet import order_sheet

    ds = loaded_once(fresh_data)
    sheet = order_sheet(ds, 44, D, closing_stock={12: 0.0}, model="weekday_mean4")
    by = {line.product: line for line in sheet.lines}
    big = by[3].recommended * 2 + 10  # far more than 20 % away
    base = ["confirm", "--data", str(fresh_data), "--store", "44", "--date", "2017-03-15", "--closing", "12=0", "--model", "weekday_mean4"]
    assert main([*base, "--product", "3", "--final", str(big), "--json"]) == 2
    err = capsys.readouterr().err
    assert "The final order of product 3" in err and "write a short reason" in err and err.count("\n") == 1
    assert OrderLedger(default_ledger_path(fresh_data)).history().is_empty()

    assert main([*base, "--product", "3", "--final", str(big), "--reason", "street festival", "--token", "t1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["message"] == "Confirmed version 1 for store 44, date 2017-03-15" and out["version"] == 1
    lines = {x["product"]: x for x in out["lines"]}
    assert sorted(lines) == sorted(by)  # every product of the sheet; those not given keep the recommendation
    assert lines[3]["final"] == big and lines[3]["reason"] == "street festival"
    assert lines[12]["recommended"] == by[12].recommended == lines[12]["final"]  # recomputed with the count
    assert all(x["final"] == by[p].recommended for p, x in lines.items() if p != 3)
    latest = OrderLedger(default_ledger_path(fresh_data)).latest(44, D)
    assert dict(zip(latest["product_id"], latest["final_qty"]))[3] == big

    # the same token again is the same confirmation; without a token, a new version
    assert main([*base, "--product", "3", "--final", str(big), "--reason", "street festival", "--token", "t1"]) == 0
    assert capsys.readouterr().out.startswith("Confirmed version 1 for store 44, date 2017-03-15: ")
    assert main(["confirm", "--data", str(fresh_data), "--store", "44", "--date", "2017-03-15", "--model", "weekday_mean4"]) == 0
    assert capsys.readouterr().out.startswith("Confirmed version 2 for store 44, date 2017-03-15: ")


def test_confirm_argument_errors_are_one_sentence(fresh_data, loaded_once, capsys):
    base = ["confirm", "--data", str(fresh_data), "--store", "44", "--date", "2017-03-15"]
    assert main([*base, "--product", "3"]) == 2
    assert "Give one --final for each --product" in capsys.readouterr().err
    assert main([*base, "--closing", "3:40"]) == 2
    assert "--closing must be PRODUCT=UNITS" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--product", "3", "--final", "many"])
