"""Index and retrieve through a real Chroma server (`chroma run` from the chromadb package)."""

from __future__ import annotations

import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, local_server


def chroma_executable() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the chroma command (from the chromadb package) is not installed")
    return found


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as r:
            return r.status == 200

    args = [chroma_executable(), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)]
    with local_server(args, ready, tmp_path / "chroma.log", "chroma run"):
        yield "127.0.0.1", port, tmp_path / "chroma-data"


def test_index_and_retrieve_through_a_chroma_server(demo, demo_dir, chroma_server, monkeypatch):
    from engine.ask.documents import build_documents
    from engine.ask.index import AskIndex
    from engine.ask.retrieval import retrieve

    host, port, folder = chroma_server
    monkeypatch.setenv("CHROMA_HOST", host)
    monkeypatch.setenv("CHROMA_PORT", str(port))
    docs = [d for d in build_documents(demo) if d.metadata["source"] in ("dictionary", "product") or d.id_ in ("store:44", "store:15")]
    index = AskIndex.open(demo_dir)
    assert index.client_key == ("http", host, port) and index.location == f"chroma server {host}:{port}"
    counts = index.update(docs)
    assert counts["added"] == len(docs)
    assert index.status()["documents"] == len(docs)
    assert not (demo_dir.parent / "state" / "index").exists() or not any((demo_dir.parent / "state" / "index").iterdir())
    assert folder.is_dir() and any(folder.iterdir())  # the server wrote it

    ids = [p.id for p in retrieve(index, "3번 상품의 리드타임은?")]
    assert ids[0] == "product:3"
    ids = [p.id for p in retrieve(index, "What does fill rate mean?")]
    assert "dictionary:kpi:fill-rate" in ids[:3]
    assert index.update(docs)["unchanged"] == len(docs)

    # the server has the data, not this process: a new client in a fresh index object sees it
    import engine.ask.index as ix

    ix._indexes.clear()
    assert AskIndex.open(demo_dir).status()["documents"] == len(docs)


def test_a_server_that_is_down_is_one_sentence(demo_dir, monkeypatch):
    from engine.ask.index import AskIndex

    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))
    with pytest.raises(ValueError, match=r"the Chroma server at 127\.0\.0\.1:\d+ does not answer .*start it \(chroma run\) or unset CHROMA_HOST"):
        AskIndex.open(demo_dir).status()
