"""The CLI signs its changes: `confirm` and `batch` record --by (default: the OS user); `roles` and `audit` show who may do and did what."""

from __future__ import annotations

import getpass
import json

import pytest

from engine.access.audit import audit_path
from engine.cli import main
from engine.ordering.ledger import OrderLedger, default_ledger_path

ROLES = '[users."ana@kmart.example"]\nrole = "buyer"\nstores = [44, 45]\n\n[groups."kmart-data"]\nrole = "data"\n'


@pytest.fixture
def clerk(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "clerk")
    return "clerk"


def test_confirm_is_signed_by_the_os_user_unless_by_is_given(fresh_data, clerk, capsys):
    base = ["confirm", "--data", str(fresh_data), "--store", "44", "--date", "2017-03-15", "--model", "weekday_mean4", "--json"]
    assert main(base) == 0
    assert main([*base, "--by", "ana@kmart.example"]) == 0
    capsys.readouterr()
    rows = OrderLedger(default_ledger_path(fresh_data)).confirmations(44)
    assert rows.sort("version")["confirmed_by"].to_list() == [clerk, "ana@kmart.example"]


def test_batch_writes_who_ran_it_to_the_audit_log(fresh_data, clerk, capsys):
    args = ["batch", "--data", str(fresh_data), "--stores", "44", "--products", "3", "--models", "weekday_mean4", "--workers", "0", "--quiet"]
    assert main([*args, "--json"]) == 0
    assert main([*args, "--by", "dora@kmart.example", "--json"]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in audit_path(fresh_data).read_text().splitlines()]
    assert [(e["by"], e["action"], e["series_total"]) for e in lines] == [(clerk, "run_batch", 1), ("dora@kmart.example", "run_batch", 1)]
    assert main(["audit", "--data", str(fresh_data), "--json"]) == 0
    assert [e["by"] for e in json.loads(capsys.readouterr().out)] == ["dora@kmart.example", clerk]  # newest first
    assert main(["audit", "--data", str(fresh_data)]) == 0
    assert "dora@kmart.example" in capsys.readouterr().out.splitlines()[2]


def test_roles_shows_the_file_and_what_an_email_may_do(tmp_path, monkeypatch, capsys):
    path = tmp_path / "roles.toml"
    path.write_text(ROLES)
    monkeypatch.setenv("KMART_ROLES", str(path))
    assert main(["roles", "--email", "ANA@kmart.example", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["roles_file"] == str(path) and [e["who"] for e in out["entries"]] == ["ana@kmart.example", "kmart-data"]
    assert out["user"]["role"] == "buyer" and out["user"]["stores"] == [44, 45]
    assert out["user"]["may"] == ["read", "confirm", "count", "receive"]
    assert main(["roles", "--email", "x@partner.example", "--group", "kmart-data", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["user"]["may"] == ["read", "upload", "rebuild_index", "run_batch"]
    assert main(["roles", "--email", "x@partner.example"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "x@partner.example: no role (not in the roles file): may do nothing."


def test_a_broken_roles_file_is_one_sentence_on_stderr(tmp_path, monkeypatch, capsys):
    path = tmp_path / "roles.toml"
    path.write_text('[users."a@b.c"]\nrole = "boss"\n')
    monkeypatch.setenv("KMART_ROLES", str(path))
    assert main(["roles"]) != 0
    err = capsys.readouterr().err
    assert f"The roles file {path}: [users.\"a@b.c\"] has role 'boss'; write one of buyer, data, executive, admin." in err
    assert "Traceback" not in err
