"""Who may do what: the roles file, the permission table, and each guarded change called with each role.

A refused change raises one sentence (who, what, why) and writes nothing: no ledger row, no new
data, no backup, no audit line. An allowed one is signed with the user's e-mail.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from engine.access.audit import audit_path, read_audit
from engine.access.guard import ACTIONS, AccessDenied, allowed, refusal, require
from engine.access.orders import confirm_orders
from engine.access.stock import record_count
from engine.access.roles import User, cli_user, load_roles, local_user, roles_path
from engine.access.uploads import UPLOADED_BY, replace_data, uploads
from engine.ordering.ledger import OrderLedger
from engine.ordering.sheet import OrderLine, OrderSheet
from engine.ordering.stockbook import StockBook
from tests.helpers import GOOD, write_folder

D = dt.date(2017, 3, 15)
ROLES_TOML = """
groups_claim = "groups"

[users."ana@kmart.example"]
role = "buyer"
stores = [44]

[users."Ben@KMart.example"]
role = "buyer"
stores = [45, 44]

[users."dora@kmart.example"]
role = "data"

[users."eve@kmart.example"]
role = "executive"

[users."@kmart.example"]
role = "executive"

[groups."kmart-admins"]
role = "admin"

[groups."kmart-data-team"]
role = "data"
"""
BUYER = User("ana@kmart.example", "buyer", stores=(44,))
DATA = User("dora@kmart.example", "data")
EXEC = User("eve@kmart.example", "executive")
ADMIN = User("root@kmart.example", "admin")
NOBODY = User("stranger@elsewhere.example", None)


@pytest.fixture
def roles_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES_TOML)
    monkeypatch.setenv("KMART_ROLES", str(path))
    return path


def _sheet(store: int) -> OrderSheet:
    line = lambda product, recommended: OrderLine(  # noqa: E731
        store=store, product=product, date=D, lead_time=2, price=2.0, pack_size=1, closing_stock=5.0, closing_source="simulated",
        in_transit=0.0, forecasts=[10.0, 12.0], safety_stock=4.0, safety_form="fixed", recommended=recommended,
        reason="", model="weekday_mean4")
    return OrderSheet(store=store, date=D, policy="order-up-to", lines=[line(3, 100), line(12, 7)])


# ---------------------------------------------------------------------------------------------- roles file
def test_the_roles_file_maps_email_domain_and_group_to_a_role(roles_file):
    assert roles_path() == roles_file
    roles = load_roles()
    assert roles.user_for("ana@kmart.example", "Ana") == User("ana@kmart.example", "buyer", name="Ana", stores=(44,))
    ben = roles.user_for("ben@kmart.example")  # e-mails match without regard to case; stores are sorted
    assert (ben.role, ben.stores) == ("buyer", (44, 45))
    assert roles.user_for("zed@kmart.example").role == "executive"  # the domain entry
    assert roles.user_for("zed@kmart.example", groups=["kmart-admins"]).role == "admin"  # a group beats the domain
    assert roles.user_for("ana@kmart.example", groups=["kmart-admins"]).role == "buyer"  # an exact e-mail beats a group
    assert roles.user_for("x@partner.example", groups=["other", "kmart-data-team"]).role == "data"
    assert roles.user_for("x@partner.example").role is None
    assert roles.user_for(None).role is None


def test_roles_path_beside_the_state_folder_then_the_project_root(tmp_path, monkeypatch):
    monkeypatch.delenv("KMART_ROLES", raising=False)
    data = tmp_path / "data" / "current"
    data.mkdir(parents=True)
    from engine.access.roles import PROJECT_ROOT

    assert (PROJECT_ROOT / "Home.py").exists() and roles_path(data) == PROJECT_ROOT / "roles.toml"
    (tmp_path / "data" / "roles.toml").write_text("")
    assert roles_path(data) == tmp_path / "data" / "roles.toml"
    assert load_roles(tmp_path / "missing.toml").users == {}  # a missing file: nobody has a role


@pytest.mark.parametrize("text, sentence", [
    ('[users."a@b.c"]\nrole = "boss"\n', 'The roles file {p}: [users."a@b.c"] has role \'boss\'; write one of buyer, data, executive, admin.'),
    ('[users."a@b.c"]\nrole = "buyer"\n', 'The roles file {p}: [users."a@b.c"] is a buyer without stores; add stores = [44] (the store ids they order for).'),
    ('[users."a@b.c"]\nrole = "buyer"\nstores = ["x"]\n',
     'The roles file {p}: [users."a@b.c"] has stores [\'x\']; write store ids as numbers, e.g. stores = [44, 45].'),
    ('[people."a@b.c"]\nrole = "buyer"\n', 'The roles file {p} has unknown section(s) people; use [users."email"] and [groups."name"] tables.'),
])
def test_a_wrong_roles_file_is_one_sentence(tmp_path, text, sentence):
    path = tmp_path / "roles.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_roles(path)
    assert str(err.value) == sentence.format(p=path)


def test_not_toml_says_which_file(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text("[users\n")
    with pytest.raises(ValueError, match=r"^The roles file .*roles.toml is not valid TOML \(.*\); fix that line"):
        load_roles(path)


# ---------------------------------------------------------------------------------------------- permissions
EXPECTED = {  # role -> the actions it may do (a buyer: for its own stores)
    "buyer": {"read", "confirm", "count", "receive"},
    "data": {"read", "upload", "rebuild_index", "run_batch"},
    "executive": {"read"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("user", [BUYER, DATA, EXEC, ADMIN], ids=lambda u: u.role)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_role_and_action(user, action):
    may = action in EXPECTED[user.role]
    assert allowed(user, action, 44) is may
    if may:
        assert require(user, action, 44) is user
    else:
        with pytest.raises(AccessDenied) as err:
            require(user, action, 44)
        assert str(err.value).startswith(f"{user.email} (") and " may not " in str(err.value)


def test_refusal_sentences_say_who_what_why():
    assert refusal(BUYER, "confirm", 45) == (
        "ana@kmart.example (buyer of store 44) may not confirm orders for store 45: a buyer may confirm orders only for their "
        "own stores (44); ask an admin to add store 45 to your entry in roles.toml.")
    assert refusal(BUYER, "count", 45).startswith("ana@kmart.example (buyer of store 44) may not record stock counts for store 45: ")
    assert refusal(EXEC, "confirm", 44) == (
        "eve@kmart.example (an executive) may not confirm orders for store 44: an executive reads everything and changes nothing; "
        "ask an admin if your role should change.")
    assert refusal(DATA, "confirm", 44) == (
        "dora@kmart.example (data team) may not confirm orders for store 44: the data team uploads data, rebuilds the Ask index "
        "and runs the nightly batch, and reads orders of every store without changing them; ask an admin if your role should change.")
    assert refusal(BUYER, "upload") == (
        "ana@kmart.example (buyer of store 44) may not upload new data: a buyer confirms orders and records stock counts and receipts "
        "for their own stores, and reads everything; ask an admin if your role should change.")
    assert refusal(NOBODY, "read") == (
        "stranger@elsewhere.example (no role) may not read the dashboard: this account is not in the roles file, so it has no role; "
        "ask an admin to add it to roles.toml (docs/auth.md).")
    assert refusal(None, "confirm", 44) == "Nobody is signed in, so nobody may confirm orders for store 44: sign in first."
    with pytest.raises(ValueError, match="Unknown action 'fly'"):
        refusal(ADMIN, "fly")


def test_local_mode_and_the_cli_are_admin_signed_by_the_os_user(monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "clerk")
    assert local_user() == User("clerk", "admin", name="clerk", local=True)
    assert all(allowed(local_user(), a, 99) for a in ACTIONS)
    assert cli_user(None).email == "clerk" and cli_user("ana@kmart.example").email == "ana@kmart.example"


# ---------------------------------------------------------------------------------------------- confirm orders
def _rows(path: Path) -> list[tuple]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as con:
        return con.execute("SELECT store_id, version, confirmed_by FROM confirmations ORDER BY rowid").fetchall()


@pytest.mark.parametrize("user, store", [(BUYER, 45), (EXEC, 44), (DATA, 44), (NOBODY, 44)], ids=["buyer-other-store", "executive", "data", "no-role"])
def test_confirm_refused_writes_nothing(tmp_path, user, store):
    path = tmp_path / "ledger.sqlite"
    with pytest.raises(AccessDenied) as err:
        confirm_orders(user, _sheet(store), {3: 100}, ledger=OrderLedger(path))
    assert str(err.value) == refusal(user, "confirm", store)
    assert not path.exists()  # not even created


@pytest.mark.parametrize("user", [BUYER, ADMIN], ids=["buyer", "admin"])
def test_confirm_allowed_is_signed_with_the_email(tmp_path, user):
    path = tmp_path / "ledger.sqlite"
    done = confirm_orders(user, _sheet(44), {12: 8}, client_token="t1", ledger=OrderLedger(path))
    assert done.version == 1 and [(line["product"], line["final"]) for line in done.lines] == [(3, 100.0), (12, 8.0)]
    assert _rows(path) == [(44, 1, user.email)]
    assert OrderLedger(path, read_only=True).history(44, D)["confirmed_by"].to_list() == [user.email, user.email]


# ---------------------------------------------------------------------------------------------- stock counts
@pytest.mark.parametrize("user, store", [(BUYER, 45), (EXEC, 44), (DATA, 44), (NOBODY, 44)], ids=["buyer-other-store", "executive", "data", "no-role"])
def test_count_refused_writes_nothing(demo, tmp_path, user, store):
    path = tmp_path / "ledger.sqlite"
    with pytest.raises(AccessDenied) as err:
        record_count(user, demo, StockBook(path), store, 3, D, 40)
    assert str(err.value) == refusal(user, "count", store)
    assert not path.exists()


def test_count_allowed_is_signed_with_the_email(demo, tmp_path):
    book = StockBook(tmp_path / "ledger.sqlite")
    record_count(BUYER, demo, book, 44, 3, D, 40, reason="shelf count")
    counts = book.counts(44, 3)
    assert counts.height == 1 and counts["counted_qty"].to_list() == [40.0]
    assert counts["entered_by"].to_list() == [BUYER.email]


def test_confirm_at_close_confirms_then_saves_each_typed_count_once(demo, tmp_path):
    from engine.access.orders import confirm_at_close

    path = tmp_path / "ledger.sqlite"
    book = StockBook(path)
    saved: dict = {}
    done = confirm_at_close(BUYER, demo, _sheet(44), {12: 8}, None, {3: 40.0}, book, saved, client_token="t1")
    assert done.version == 1 and _rows(path) == [(44, 1, BUYER.email)]
    assert book.counts(44, 3)["counted_qty"].to_list() == [40.0] and saved == {3: 40.0}
    # pressed again with the same count: no second count; a changed count is a new entry
    confirm_at_close(BUYER, demo, _sheet(44), {12: 8}, None, {3: 40.0}, book, saved, client_token="t2")
    assert book.counts(44, 3)["counted_qty"].to_list() == [40.0]
    confirm_at_close(BUYER, demo, _sheet(44), {12: 8}, None, {3: 38.0}, book, saved, client_token="t3")
    assert book.counts(44, 3)["counted_qty"].to_list() == [40.0, 38.0]
    assert set(book.counts(44, 3)["entered_by"].to_list()) == {BUYER.email}


def test_confirm_at_close_refused_writes_neither_order_nor_count(demo, tmp_path):
    from engine.access.orders import confirm_at_close

    path = tmp_path / "ledger.sqlite"
    with pytest.raises(AccessDenied):
        confirm_at_close(EXEC, demo, _sheet(44), {12: 8}, None, {3: 40.0}, StockBook(path), {}, client_token="t1")
    assert not path.exists()


# ---------------------------------------------------------------------------------------------- upload data
def _files() -> dict[str, bytes]:
    return {name: text.replace("2017-01-04,45,2,3", "2017-01-04,45,9,3").encode() for name, text in GOOD.items()}


@pytest.mark.parametrize("user", [BUYER, EXEC, NOBODY], ids=["buyer", "executive", "no-role"])
def test_upload_refused_changes_nothing(tmp_path, user):
    data = write_folder(tmp_path / "data" / "current")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    with pytest.raises(AccessDenied) as err:
        replace_data(user, _files(), data)
    assert str(err.value) == refusal(user, "upload")
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["current"]  # no backup, no staging, no state


@pytest.mark.parametrize("user", [DATA, ADMIN], ids=["data", "admin"])
def test_upload_allowed_records_the_uploader_in_the_backup_and_the_audit(tmp_path, user):
    data = write_folder(tmp_path / "data" / "current")
    old = (data / "sales.csv").read_bytes()
    report = replace_data(user, _files(), data)
    assert report.ok
    backup = Path(report.summary["backup"])
    assert (backup / "sales.csv").read_bytes() == old and b"2017-01-04,45,9,3" in (data / "sales.csv").read_bytes()
    signed = json.loads((backup / UPLOADED_BY).read_text())
    assert signed["uploaded_by"] == user.email and signed["role"] == user.role and signed["sales_rows"] == 4
    assert signed["files"] == sorted(GOOD)
    assert dt.datetime.fromisoformat(signed["uploaded_at"]) <= dt.datetime.now(dt.timezone.utc)
    assert uploads(data) == [{"backup": str(backup), **signed}]
    (entry,) = read_audit(data)
    assert (entry["by"], entry["action"], entry["backup"]) == (user.email, "upload", str(backup))
    assert audit_path(data) == tmp_path / "data" / "state" / "audit.jsonl"


def test_an_invalid_upload_by_the_data_team_is_not_signed(tmp_path):
    data = write_folder(tmp_path / "data" / "current")
    bad = {**_files(), "sales.csv": b"Date,Store_ID,Qty,Product_ID\n2017-01-02,44,-5,3\n"}
    report = replace_data(DATA, bad, data)
    assert not report.ok and read_audit(data) == [] and not (tmp_path / "data" / "backups").exists()


# ---------------------------------------------------------------------------------------------- index and batch
@pytest.mark.parametrize("user", [BUYER, EXEC, NOBODY], ids=["buyer", "executive", "no-role"])
def test_rebuild_index_and_batch_refused_do_nothing(tmp_path, monkeypatch, user):
    import engine.access.batch as guarded_batch
    import engine.access.index as guarded_index

    called = []
    monkeypatch.setattr(guarded_index, "ensure_index", lambda *a, **k: called.append("index"))
    monkeypatch.setattr(guarded_batch, "_run_batch", lambda *a, **k: called.append("batch"))
    data = write_folder(tmp_path / "data" / "current")
    with pytest.raises(AccessDenied) as err:
        guarded_index.rebuild_index(user, data)
    assert str(err.value) == refusal(user, "rebuild_index")
    with pytest.raises(AccessDenied) as err:
        guarded_batch.run_batch(user, data, stores="44", products="3", workers=0)
    assert str(err.value) == refusal(user, "run_batch")
    assert called == [] and not (tmp_path / "data" / "state").exists()


def test_batch_by_the_data_team_runs_and_is_signed(demo_dir, tmp_path):
    import shutil

    from engine.access.batch import run_batch

    data = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, data)
    summary = run_batch(DATA, data, stores="44", products="3", models="weekday_mean4", workers=0)
    assert summary["series_ok"] == 1
    (entry,) = read_audit(data)
    assert (entry["by"], entry["role"], entry["action"], entry["series_ok"], entry["stores"]) == (DATA.email, "data", "run_batch", 1, [44])


def test_the_example_files_are_valid():
    import tomllib

    from engine.access.roles import PROJECT_ROOT

    roles = load_roles(PROJECT_ROOT / ".streamlit" / "roles.toml.example")
    assert roles.user_for("ana.buyer@kmart.example").stores == (44,)
    assert roles.user_for("someone@kmart.example").role == "executive"
    assert roles.user_for("x@partner.example", groups=["kmart-data-team"]).role == "data"
    auth = tomllib.loads((PROJECT_ROOT / ".streamlit" / "secrets.toml.example").read_text())["auth"]
    assert {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"} <= set(auth)
    assert auth["redirect_uri"].endswith("/oauth2callback")


def test_rebuild_index_by_the_data_team_is_forced_and_signed(tmp_path, monkeypatch):
    import engine.access.index as guarded_index

    calls = []
    monkeypatch.setattr(guarded_index, "ensure_index", lambda folder, ds, progress=None, force=False: calls.append((folder, force)) or {"documents": 5})
    data = write_folder(tmp_path / "data" / "current")
    assert guarded_index.rebuild_index(DATA, data) == {"documents": 5}
    assert calls == [(data, True)]
    (entry,) = read_audit(data)
    assert (entry["by"], entry["role"], entry["action"], entry["documents"]) == (DATA.email, "data", "rebuild_index", 5)


def test_signed_in_claims_map_to_a_user_and_an_unverified_email_gets_no_role(roles_file):
    from engine.access.roles import signed_in_user

    ana = signed_in_user({"email": "ana@kmart.example", "name": "Ana", "email_verified": True, "is_logged_in": True})
    assert (ana.role, ana.stores, ana.name) == ("buyer", (44,), "Ana")
    assert signed_in_user({"email": "x@partner.example", "groups": ["kmart-data-team"]}).role == "data"
    forged = signed_in_user({"email": "ana@kmart.example", "email_verified": False})
    assert forged.role is None and not allowed(forged, "read")
    assert refusal(forged, "confirm", 44) == ("ana@kmart.example may not confirm orders for store 44: the identity provider says this "
                                              "e-mail address is not verified; verify it with the provider, then sign in again.")
