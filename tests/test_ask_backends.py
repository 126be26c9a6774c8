"""LLM backends: model files from packages (join + sha256), llama.cpp in-process, OpenAI-compatible endpoints.

The OpenAI-compatible path runs against a real `python -m llama_cpp.server` on 127.0.0.1 serving
SmolLM2-135M, and against small fake servers that are down, slow, return garbage or refuse the key.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import sys
import threading
import time
import urllib.request

import pytest

from engine.ask import models
from engine.ask.backends import BackendError, OpenAIBackend, make_backend
from tests.servers import free_port, local_server

SECRET = "sk-test-DO-NOT-LEAK-5f2c9a"


# ------------------------------------------------------------------------------ model files
@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A model split over three tiny part packages, like the real ones (get_part_path())."""
    blobs = [b"GGUF" + bytes(range(256)) * 3, b"second part " * 50, b"tail"]
    for i, blob in enumerate(blobs, 1):
        pkg = tmp_path / "site" / f"fake_model_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        (pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "
            f"'data', 'part{i:02d}.bin')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    joined = b"".join(blobs)
    spec = models.ModelSpec("fake", "Fake model", "fake.gguf", tuple(f"fake_model_part{i}" for i in (1, 2, 3)),
                            "fake-model-part1..3", hashlib.sha256(joined).hexdigest(), len(joined))
    monkeypatch.setitem(models.MODELS, "fake", spec)
    monkeypatch.setenv("KMART_MODELS", str(tmp_path / "models"))
    return spec, joined


def test_parts_are_joined_once_and_checked(fake_model, monkeypatch):
    spec, joined = fake_model
    path = models.model_path("fake")
    assert path.read_bytes() == joined
    assert path.parent.name == "models"
    # a second call reuses the verified file without hashing it again
    monkeypatch.setattr(models.hashlib, "sha256", lambda *a: (_ for _ in ()).throw(AssertionError("hashed again")))
    assert models.model_path("fake") == path


def test_wrong_checksum_leaves_nothing_behind(fake_model, monkeypatch, tmp_path):
    spec, _ = fake_model
    monkeypatch.setitem(models.MODELS, "fake", models.ModelSpec(**{**spec.__dict__, "sha256": "0" * 64}))
    with pytest.raises(ValueError, match="expected sha256.*reinstall fake-model-part1..3"):
        models.model_path("fake")
    assert list((tmp_path / "models").iterdir()) == []  # neither the target nor a temporary file


def test_altered_file_is_joined_again(fake_model):
    spec, joined = fake_model
    path = models.model_path("fake")
    path.write_bytes(b"tampered")
    assert models.model_path("fake").read_bytes() == joined


def test_missing_package_is_one_sentence(monkeypatch):
    spec = models.ModelSpec("gone", "Gone model", "gone.gguf", ("no_such_model_part1",), "no-such-model-part1==1.0", "0" * 64, 1)
    monkeypatch.setitem(models.MODELS, "gone", spec)
    with pytest.raises(ValueError, match=r"Gone model is not installed .*no-such-model-part1==1.0.*'none' backend"):
        models.model_path("gone")


def test_shipped_models_have_their_pinned_checksums():
    """The real packages: SmolLM2 checked in place; Qwen 0.5B joined (once per machine) and checked."""
    small = models.model_path("smollm2-135m")
    assert small.stat().st_size == models.MODELS["smollm2-135m"].size
    qwen = models.model_path("qwen2.5-coder-0.5b")
    assert qwen.stat().st_size == models.MODELS["qwen2.5-coder-0.5b"].size
    assert json.loads(qwen.with_name(qwen.name + ".verified").read_text())["sha256"].startswith("1d961463")
    assert models.MODELS["qwen2.5-coder-1.5b"].sha256.startswith("cc324af0")


def test_unknown_backend_and_model_are_sentences():
    with pytest.raises(ValueError, match="Unknown backend 'gpt'"):
        make_backend("gpt")
    with pytest.raises(ValueError, match="no local model called 'llama-70b'"):
        make_backend("local", model="llama-70b")
    assert make_backend("none") is None


# ------------------------------------------------------------------------------ local llama.cpp
QUESTION = [{"role": "system", "content": "You are a helpful assistant. Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.slow
def test_local_small_model_answers_and_streams_the_same_text():
    backend = make_backend("local", model="smollm2-135m")
    assert make_backend("local", model="smollm2-135m") is backend  # one per process
    text = backend.chat(QUESTION, max_tokens=24)
    assert "Paris" in text
    assert "<|im_end|>" not in text and "<|im_start|>" not in text
    assert len(backend.llm._model.tokenize(text.encode(), add_bos=False)) <= 25  # the output limit held
    pieces = list(backend.chat(QUESTION, max_tokens=24, stream=True))
    assert len(pieces) > 3
    assert "".join(pieces).strip() == text  # greedy decoding: same reply either way
    assert backend.llm is backend.llm  # loaded once


# ------------------------------------------------------------------------------ OpenAI-compatible
@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """A real llama.cpp OpenAI-compatible server with SmolLM2 on 127.0.0.1:<free port>."""
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(models.model_path("smollm2-135m")),
            "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "2048", "--model_alias", "smollm2"]
    url = f"http://127.0.0.1:{port}/v1"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
            return bool(json.load(r)["data"])

    with local_server(args, ready, tmp_path_factory.mktemp("server") / "llama_server.log", "llama_cpp.server", 120, poll=0.5):
        yield url


@pytest.mark.slow
def test_openai_compatible_backend_against_a_real_llama_server(llama_server, monkeypatch):
    monkeypatch.setenv("KMART_OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("KMART_OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("KMART_OPENAI_MODEL", raising=False)
    with pytest.raises(BackendError, match="needs a model name: set KMART_OPENAI_MODEL"):
        make_backend("openai")
    monkeypatch.setenv("KMART_OPENAI_MODEL", "smollm2")
    backend = make_backend("openai")
    text = backend.chat(QUESTION, max_tokens=24)
    assert "Paris" in text
    pieces = list(backend.chat(QUESTION, max_tokens=24, stream=True))
    assert len(pieces) > 3 and "Paris" in "".join(pieces)
    assert SECRET not in repr(backend) and SECRET not in str(backend)


@pytest.mark.slow
def test_server_stopped_is_a_clear_sentence(tmp_path):
    """Start the real server, stop it, then ask: one sentence, no traceback text, no key."""
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(models.model_path("smollm2-135m")),
            "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1"]
    url = f"http://127.0.0.1:{port}/v1"
    with local_server(args, lambda: urllib.request.urlopen(f"{url}/models", timeout=2).status == 200,
                      tmp_path / "llama_server.log", "llama_cpp.server", 120, poll=0.5):
        backend = OpenAIBackend(url, model="smollm2", api_key=SECRET, timeout=30)
        assert backend.chat(QUESTION, max_tokens=8)
    with pytest.raises(BackendError) as err:
        backend.chat(QUESTION, max_tokens=8)
    assert str(err.value).startswith(f"The OpenAI-compatible endpoint {url} cannot be reached")
    assert SECRET not in str(err.value) and "Traceback" not in str(err.value)


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    mode = "garbage"

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode(), "application/json")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.mode == "slow":
            time.sleep(3)
            self._reply(200, b"{}", "application/json")
        elif self.mode == "garbage":
            self._reply(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif self.mode == "wrong-json":
            self._reply(200, json.dumps({"hello": "world"}).encode(), "application/json")
        elif self.mode == "unauthorized":
            self._reply(401, json.dumps({"error": {"message": f"bad key {self.headers.get('Authorization')}"}}).encode(),
                        "application/json")
        else:
            self._reply(500, json.dumps({"error": {"message": "boom"}}).encode(), "application/json")


@pytest.fixture
def fake_server():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_FakeHandler,), {"mode": mode})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("mode, sentence", [
    ("garbage", "returned something that is not a chat completion"),
    ("wrong-json", "returned something that is not a chat completion"),
    ("unauthorized", "refused the API key (HTTP 401)"),
    ("error", "returned an error (HTTP 500)"),
])
def test_bad_endpoints_are_clear_sentences(fake_server, mode, sentence):
    backend = OpenAIBackend(fake_server(mode), model="fake", api_key=SECRET, timeout=10)
    with pytest.raises(BackendError) as err:
        backend.chat(QUESTION, max_tokens=8)
    assert sentence in str(err.value)
    assert SECRET not in str(err.value)
    assert str(err.value).count(". ") <= 1 and "\n" not in str(err.value)


def test_slow_endpoint_times_out(fake_server):
    backend = OpenAIBackend(fake_server("slow"), model="fake", api_key=SECRET, timeout=0.5)
    t0 = time.perf_counter()
    with pytest.raises(BackendError, match=r"did not answer within 0.5 s"):
        backend.chat(QUESTION, max_tokens=8)
    assert time.perf_counter() - t0 < 2.5  # no silent retries


def test_down_endpoint_and_bad_urls():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match="cannot be reached"):
        OpenAIBackend(url, model="m", api_key=SECRET, timeout=5).chat(QUESTION)
    with pytest.raises(BackendError, match="needs a base URL"):
        OpenAIBackend("", model="m")
    with pytest.raises(BackendError, match="not an http"):
        OpenAIBackend("localhost:8080", model="m")
    with pytest.raises(BackendError, match="not inside the base URL") as err:
        OpenAIBackend(f"http://user:{SECRET}@127.0.0.1:1/v1", model="m")
    assert SECRET not in str(err.value)


@pytest.mark.slow
def test_transformers_backend_runs_the_shipped_smollm2_gguf_on_the_cpu(monkeypatch):
    """HuggingFaceLLM over the SmolLM2 GGUF (transformers ``gguf_file=``), CPU, no download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("KMART_HF_MODEL", raising=False)
    backend = make_backend("transformers")
    assert make_backend("transformers") is backend
    text = backend.chat(QUESTION, max_tokens=16)
    assert "Paris" in text and "<|im_end|>" not in text
    assert len(backend.llm._tokenizer(text)["input_ids"]) <= 17  # the output limit held (16 new tokens)
    assert not backend.quantized  # no CUDA here: the CPU, not 4-bit NF4
    with pytest.raises(BackendError, match="does not exist"):
        make_backend("transformers", path="/nowhere/model.gguf")
