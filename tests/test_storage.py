"""Replacing the data (only a valid upload replaces it, the old data is always kept) and where the state lives."""

import hashlib
import json
import stat
from pathlib import Path

import pytest

from engine.cli import main
from engine.data.storage import (data_dir, list_backups, recover_interrupted_replace, replace_dataset, state_dir,
                                 state_location, state_stamp)
from engine.ordering.ledger import default_ledger_path
from tests.helpers import GOOD, write_folder


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_invalid_upload_changes_nothing(tmp_path, monkeypatch):
    current = write_folder(tmp_path / "data" / "current")
    monkeypatch.setenv("KMART_DATA", str(current))
    before = _digest(current)
    upload = {name: text.encode() for name, text in GOOD.items()}
    upload["sales.csv"] = b"Date,Store_ID,Qty,Product_ID\n2017-01-02,44,oops,3\n"
    report = replace_dataset(upload)
    assert not report.ok
    assert report.error_sentences() == ["sales.csv, row 2, column Qty: 'oops' is not a number; enter a number without letters or units."]
    assert _digest(current) == before and list_backups() == []
    assert [p.name for p in current.parent.iterdir()] == ["current"]  # no staging left behind


def test_valid_upload_replaces_and_keeps_a_backup(tmp_path, monkeypatch):
    current = write_folder(tmp_path / "data" / "current")
    monkeypatch.setenv("KMART_DATA", str(current))
    before = _digest(current)
    upload = {name: text.encode() for name, text in GOOD.items()}
    upload["sales.csv"] = GOOD["sales.csv"].replace("2017-01-02,44,10,3", "2017-01-02,44,11,3").encode()
    report = replace_dataset(upload)
    assert report.ok
    assert (data_dir() / "sales.csv").read_bytes() == upload["sales.csv"]
    backups = list_backups()
    assert len(backups) == 1 and _digest(backups[0]) == before


def test_upload_missing_a_table_is_refused(tmp_path, monkeypatch):
    current = write_folder(tmp_path / "data" / "current")
    monkeypatch.setenv("KMART_DATA", str(current))
    upload = {name: text.encode() for name, text in GOOD.items() if name != "stores.csv"}
    report = replace_dataset(upload)
    assert not report.ok and report.error_sentences()[0].startswith("stores.csv: the file is missing")
    assert (current / "stores.csv").exists()


def test_interrupted_replace_restores_the_newest_backup(tmp_path):
    data = tmp_path / "data" / "current"
    backup = write_folder(tmp_path / "data" / "backups" / "20170101-000000-000000")
    assert not data.exists()
    assert recover_interrupted_replace(data) == data
    assert (data / "sales.csv").exists() and not backup.exists()


# --- where the state lives: KMART_STATE, beside the data, or the per-user cache -------------------

@pytest.fixture
def read_only_data(tmp_path, monkeypatch):
    """A small data folder whose folder and parent have every write bit off (as a shared mount would)."""
    monkeypatch.delenv("KMART_STATE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = write_folder(tmp_path / "shared" / "current")
    locked = [data, data.parent]
    for folder in locked:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    yield data
    for folder in locked:
        folder.chmod(stat.S_IRWXU)


def test_state_goes_beside_writable_data(tmp_path, monkeypatch):
    monkeypatch.delenv("KMART_STATE", raising=False)
    data = write_folder(tmp_path / "data" / "current")
    where = state_location(data)
    assert where.path == tmp_path / "data" / "state" and where.reason == "beside the data"
    assert not where.path.exists()  # deciding creates nothing
    assert state_dir(data) == where.path and where.path.is_dir()


def test_read_only_data_keeps_its_state_in_the_user_cache(read_only_data, tmp_path, capsys):
    expected = tmp_path / "cache" / "kmart" / hashlib.sha256(str(read_only_data.resolve()).encode()).hexdigest()[:16]
    where = state_location(read_only_data)
    assert where.path == expected
    assert where.reason == f"in the per-user cache: {tmp_path / 'shared' / 'state'} cannot be written"
    assert state_dir(read_only_data) == expected and expected.is_dir()
    assert default_ledger_path(read_only_data) == expected / "ledger.sqlite"
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["current"]  # nothing written beside the data
    # the "has anything changed" stamp watches the state where it really is
    before = state_stamp(read_only_data)
    (expected / "ledger.sqlite").write_bytes(b"x")
    assert state_stamp(read_only_data) != before
    assert state_stamp(read_only_data, include_state=False) == state_stamp(read_only_data, include_state=False)
    # and the overview command says where, and why
    assert main(["overview", "--data", str(read_only_data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == {"path": str(expected), "reason": where.reason}
    assert main(["overview", "--data", str(read_only_data)]) == 0
    assert f"the app's state (orders ledger, models, index) is kept in {expected} ({where.reason})" in capsys.readouterr().out


def test_kmart_state_wins(read_only_data, tmp_path, monkeypatch):
    monkeypatch.setenv("KMART_STATE", str(tmp_path / "elsewhere"))
    where = state_location(read_only_data)
    assert where.path == tmp_path / "elsewhere" and where.reason == "set by KMART_STATE"
    assert default_ledger_path(read_only_data) == tmp_path / "elsewhere" / "ledger.sqlite"


def test_an_upload_into_a_read_only_data_folder_is_one_sentence_and_changes_nothing(read_only_data):
    before = _digest(read_only_data)
    report = replace_dataset({name: text.encode() for name, text in GOOD.items()}, read_only_data)
    assert report.error_sentences() == [
        f"{read_only_data.parent}: the folder cannot be written, so new data cannot replace the current data; "
        "make it writable or set KMART_DATA to a data folder in a writable place."
    ]
    assert _digest(read_only_data) == before and sorted(p.name for p in read_only_data.parent.iterdir()) == ["current"]


def test_default_data_folder_is_data_current_of_the_project(monkeypatch):
    """Without KMART_DATA the app reads <project>/data/current (the folder `make run` writes the demo to)."""
    from engine.data.storage import data_dir

    monkeypatch.delenv("KMART_DATA", raising=False)
    project = Path(__file__).resolve().parent.parent
    assert (project / "Home.py").is_file()
    assert data_dir() == (project / "data" / "current").resolve()
