"""AppTest of sign-in and gating: local mode says so; with [auth] a visitor must sign in; each role sees only what it may do."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from engine.access.guard import refusal
from engine.access.roles import User
from engine.ordering.ledger import OrderLedger, default_ledger_path
from tests.conftest import ROOT

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret-not-a-real-one-0123456789",
        "client_id": "kmart", "client_secret": "secret", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ROLES_TOML = """
[users."ana@kmart.example"]
role = "buyer"
stores = [44]

[users."eve@kmart.example"]
role = "executive"

[users."dora@kmart.example"]
role = "data"
"""
BUYER = User("ana@kmart.example", "buyer", name="Ana", stores=(44,))


@pytest.fixture(scope="module")
def data(demo_dir, tmp_path_factory):
    """One private copy of the demo data and a roles file for this module."""
    folder = tmp_path_factory.mktemp("access") / "data" / "current"
    shutil.copytree(demo_dir, folder)
    (folder.parent / "roles.toml").write_text(ROLES_TOML)  # found beside the state folder
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KMART_DATA", str(folder))
        mp.delenv("KMART_ROLES", raising=False)
        yield folder


def _run(page: str, email: str | None = None, auth: bool = True, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=300)
    if auth:
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email, "name": email.split("@")[0].title()}
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    return at


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_without_auth_the_app_is_in_labelled_local_mode(data):
    at = _run("Home.py", auth=False)
    banner = "\n".join(i.value for i in at.sidebar.info)
    assert "Single-user local mode" in banner and "[auth]" in banner and "docs/auth.md" in banner
    assert at.metric and at.file_uploader(key="upload") is not None  # everything as before, upload included
    assert not [b for b in at.button if b.key == "logout"]


def test_with_auth_a_visitor_sees_only_the_sign_in_button(data):
    at = _run("Home.py")
    assert [b.label for b in at.button] == ["Sign in"]
    assert "Sign in to use the K-Mart dashboard." in at.info[0].value
    assert not at.metric and not at.dataframe  # no data before sign-in


def test_an_account_without_a_role_gets_one_sentence(data):
    at = _run("Home.py", "mallory@elsewhere.example")
    assert [e.value for e in at.error] == [refusal(User("mallory@elsewhere.example", None), "read")]
    assert not at.metric and [b.key for b in at.button] == ["logout"]


@pytest.mark.parametrize("email, role", [("ana@kmart.example", "buyer"), ("eve@kmart.example", "executive")])
def test_buyer_and_executive_see_kpis_but_no_upload(data, email, role):
    at = _run("Home.py", email)
    assert {m.label for m in at.metric} >= {"Units sold", "Sales value"}
    assert not [u for u in at.get("file_uploader")]
    assert f"Uploading new data is for the data team; {email} is signed in as {role}." in _captions(at)
    assert f"({email}) · {role}" in "\n".join(c.value for c in at.sidebar.caption)


def test_the_data_team_may_upload(data):
    at = _run("Home.py", "dora@kmart.example")
    assert at.file_uploader(key="upload") is not None


def test_buyer_confirms_own_store_signed_with_the_email_and_not_another(data):
    ledger = OrderLedger(default_ledger_path(data))
    at = _run("pages/3_Orders.py", "ana@kmart.example", model="weekday_mean4")
    date = at.date_input(key="date").value
    at.button(key="confirm").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == f"Confirmed version 1 for store 44, date {date}"
    assert ledger.confirmations(44, date)["confirmed_by"].to_list() == ["ana@kmart.example"]

    at.sidebar.selectbox(key="store").set_value(45).run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "confirm"]
    assert refusal(BUYER, "confirm", 45) in _captions(at)


def test_executive_sees_the_sheet_but_no_confirm(data):
    at = _run("pages/3_Orders.py", "eve@kmart.example", model="weekday_mean4")
    assert at.data_editor(key=f"sheet-44-{at.date_input(key='date').value}") is not None
    assert not [b for b in at.button if b.key == "confirm"]
    assert "eve@kmart.example (an executive) may not confirm orders for store 44" in _captions(at)


@pytest.mark.parametrize("email, may_run", [("eve@kmart.example", False), ("ana@kmart.example", False), ("dora@kmart.example", True)])
def test_only_the_data_team_sees_run_batch(data, email, may_run):
    at = _run("pages/6_Nightly_batch.py", email)
    assert bool([b for b in at.button if b.key == "run_batch"]) is may_run


def test_an_upload_by_the_data_team_is_signed_in_the_backup(tmp_path, monkeypatch):
    import json

    from tests.helpers import GOOD, write_folder

    folder = write_folder(tmp_path / "data" / "current")
    (folder.parent / "roles.toml").write_text(ROLES_TOML)
    monkeypatch.setenv("KMART_DATA", str(folder))
    at = _run("Home.py", "dora@kmart.example")
    at.file_uploader(key="upload").set_value([(name, text.encode(), "text/csv") for name, text in GOOD.items()]).run()
    at.button(key="replace").click().run()
    assert not at.exception and not at.error
    (backup,) = (tmp_path / "data" / "backups").iterdir()
    signed = json.loads((backup / "uploaded_by.json").read_text())
    assert signed["uploaded_by"] == "dora@kmart.example" and signed["role"] == "data"
    assert f"last upload by dora@kmart.example at {signed['uploaded_at'].replace('T', ' ')[:16]} UTC" in _captions(at)
