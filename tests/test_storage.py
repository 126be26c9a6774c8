"""Replacing the data: only a valid upload replaces it, and the old data is always kept."""

import hashlib

from engine.data.storage import data_dir, list_backups, recover_interrupted_replace, replace_dataset
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
