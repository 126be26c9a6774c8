"""Shared fixtures: the demo chain written once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("KMART_STATE", None)  # tests keep the state beside their data (<data>/../state)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The full demo chain (54 stores) as CSV, written once. Do not modify: copy it (see fresh_data)."""
    from engine.data.demo import write_demo

    folder = tmp_path_factory.mktemp("demo") / "current"
    write_demo(folder)
    return folder


@pytest.fixture(scope="session")
def demo(demo_dir):
    """The loaded demo Dataset."""
    from engine.data.dataset import load_dataset

    return load_dataset(demo_dir)


@pytest.fixture
def fresh_data(demo_dir, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo data as the app's current data (KMART_DATA points at it)."""
    folder = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, folder)
    monkeypatch.setenv("KMART_DATA", str(folder))
    return folder


@pytest.fixture(scope="session")
def ask_data(demo_dir) -> Path:
    """One copy of the demo data shared by the "Ask the data" tests (its document index is built once)."""
    folder = demo_dir.parent.parent / "ask-shared" / "data" / "current"
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(demo_dir, folder)
    return folder
