"""Language-model backends behind one interface: ``chat(messages, max_tokens, stream)``.

- ``local``: a quantized GGUF model run by llama.cpp in this process (Qwen2.5 instruct, ChatML,
  temperature 0, 2 threads), loaded once per process and shared between callers (a lock keeps one
  generation at a time, as a llama.cpp context is not thread-safe).
- ``openai``: any OpenAI-compatible chat endpoint (base URL, model and API key from arguments or the
  environment ``KMART_OPENAI_BASE_URL`` / ``KMART_OPENAI_MODEL`` / ``KMART_OPENAI_API_KEY``).
  The key lives only in the client object: it is never logged, echoed, cached or written anywhere,
  and it is scrubbed from any error sentence.
- ``none``: no language model (``make_backend("none")`` returns ``None``); the answer pipeline then
  answers from vetted SQL templates and retrieved passages only, and says so.

Every failure is a :class:`BackendError` (a ``ValueError``) with one clear sentence.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from engine.ask.models import DEFAULT_LOCAL_MODEL, model_path, spec

BACKENDS = ("local", "openai", "none")
STOP = ["<|im_end|>", "<|endoftext|>"]
DEFAULT_TIMEOUT_S = 60.0
CACHE_BYTES = 1 << 30
# prompts are kept under ~1,200 tokens (see engine.ask.answer / text_to_sql) and answers under 200:
# 2,048 holds a prompt, a text-to-SQL retry and the reply, with half the KV memory of 4,096
DEFAULT_N_CTX = 2048


class BackendError(ValueError):
    """A language model could not answer; the message is one sentence saying why and what to do."""


@runtime_checkable
class LLMBackend(Protocol):
    name: str  # "local" | "openai"
    model: str  # model name (part of the answer cache key)

    def chat(self, messages: list[dict], max_tokens: int = 512, stream: bool = False) -> str | Iterator[str]: ...


# After each chat call a backend may set ``last_usage = {"prompt_tokens": int, "completion_tokens": int}``
# (the local backend always does; an OpenAI-compatible one when the server reports usage). The answer
# pipeline records it per call so that latency can be judged by token counts, independent of load.


# --------------------------------------------------------------------------------------------- local
_LLAMAS: dict[tuple, object] = {}
_LLAMAS_LOCK = threading.Lock()


def load_llama(path: str, n_ctx: int = DEFAULT_N_CTX, n_threads: int = 2):
    """A ``llama_cpp.Llama`` for a GGUF file, loaded once per process per (path, n_ctx, n_threads)."""
    key = (str(path), n_ctx, n_threads)
    with _LLAMAS_LOCK:
        llm = _LLAMAS.get(key)
        if llm is None:
            try:
                from llama_cpp import Llama, LlamaRAMCache
            except ImportError:
                raise BackendError("The local model needs the package llama-cpp-python, which is not installed: run "
                                   "`make setup` or choose the OpenAI-compatible or 'none' backend.") from None
            try:
                llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                            n_batch=512, chat_format="chatml", seed=0, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise BackendError(f"llama.cpp could not load the model file {path} ({exc}): delete it so it is "
                                   f"joined and checked again, or choose another backend.") from None
            # keeps the model's state after each prompt: the next prompt that starts the same way (the
            # schema of a text-to-SQL prompt, a system prompt) is not evaluated again
            llm.set_cache(LlamaRAMCache(capacity_bytes=CACHE_BYTES))
            _LLAMAS[key] = llm
        return llm


class LocalBackend:
    """A GGUF chat model run in-process by llama.cpp (ChatML template, greedy decoding)."""

    name = "local"

    def __init__(self, model: str = DEFAULT_LOCAL_MODEL, n_ctx: int = DEFAULT_N_CTX, n_threads: int = 2,
                 path: str | None = None):
        self.model = model
        self.last_usage: dict | None = None
        self.title = spec(model).title if path is None else os.path.basename(path)
        self._path = path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"local {self.title} (llama.cpp)"

    def llama(self):
        path = self._path or model_path(self.model)
        return load_llama(path, self._n_ctx, self._n_threads)

    def chat(self, messages: list[dict], max_tokens: int = 512, stream: bool = False) -> str | Iterator[str]:
        llm = self.llama()
        if stream:
            return self._stream(llm, messages, max_tokens)
        self.last_usage = None
        with _generation_lock(llm):
            try:
                out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                                 stop=STOP, stream=False)
            except ValueError as exc:  # e.g. "Requested tokens exceed context window"
                raise self._too_long(exc) from None
        usage = out.get("usage") or {}
        self.last_usage = {"prompt_tokens": int(usage.get("prompt_tokens") or 0),
                           "completion_tokens": int(usage.get("completion_tokens") or 0)}
        return (out["choices"][0]["message"].get("content") or "").strip()

    def _too_long(self, exc: Exception) -> BackendError:
        return BackendError(f"The local model could not take this prompt ({str(exc).splitlines()[0][:160]}): "
                            f"ask a shorter question.")

    def prompt_tokens(self, messages: list[dict]) -> int:
        """How many tokens the ChatML prompt of ``messages`` is for this model (what prompt evaluation costs)."""
        from llama_cpp.llama_chat_format import format_chatml

        prompt = format_chatml(messages=messages).prompt
        # add_bos=True as llama.cpp does for a completion (adds BOS only where the model's vocabulary asks for it)
        return len(self.llama().tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _stream(self, llm, messages, max_tokens) -> Iterator[str]:
        self.last_usage = None
        prompt_tokens = self.prompt_tokens(messages)
        generated = 0
        with _generation_lock(llm):
            try:
                chunks = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                    top_k=1, stop=STOP, stream=True)
                for chunk in chunks:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        generated += 1  # llama-cpp-python streams one token per chunk (multi-byte ones joined)
                        yield piece
            except ValueError as exc:
                raise self._too_long(exc) from None
        self.last_usage = {"prompt_tokens": prompt_tokens, "completion_tokens": generated}


_GEN_LOCKS: dict[int, threading.Lock] = {}


def _generation_lock(llm) -> threading.Lock:
    with _LLAMAS_LOCK:
        return _GEN_LOCKS.setdefault(id(llm), threading.Lock())


# -------------------------------------------------------------------------------------------- openai
class OpenAIBackend:
    """An OpenAI-compatible ``/chat/completions`` endpoint (llama.cpp server, vLLM, Ollama, OpenAI, ...)."""

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S):
        if not base_url or not str(base_url).strip():
            raise BackendError("The OpenAI-compatible backend needs a base URL: set KMART_OPENAI_BASE_URL "
                               "(e.g. http://127.0.0.1:8080/v1) or enter it in the sidebar.")
        base_url = str(base_url).strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendError(f"The OpenAI-compatible base URL {base_url!r} is not an http(s) URL: "
                               f"write it like http://127.0.0.1:8080/v1.")
        if parts.username or parts.password:
            raise BackendError("Put the API key in KMART_OPENAI_API_KEY (or the key field), not inside the base URL.")
        self.base_url = base_url
        self.timeout = float(timeout)
        self.__key = api_key or ""
        self._model = model or None
        self._client_obj = None
        self.last_usage: dict | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self._model!r})"

    __str__ = __repr__

    @property
    def model(self) -> str:
        if self._model is None:
            self._model = self._first_model()
        return self._model

    @property
    def label(self) -> str:
        return f"OpenAI-compatible {self._model or '(first model)'} at {urlsplit(self.base_url).netloc}"

    def _client(self):
        if self._client_obj is None:
            from openai import OpenAI

            # max_retries=0: a dead endpoint is reported at once instead of after back-off retries
            self._client_obj = OpenAI(base_url=self.base_url, api_key=self.__key or "not-needed",
                                      timeout=self.timeout, max_retries=0)
        return self._client_obj

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def _error(self, exc: Exception) -> BackendError:
        import openai

        where = f"The OpenAI-compatible endpoint {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            msg = f"{where} did not answer within {self.timeout:g} s: try again, raise the timeout or use a smaller model."
        elif isinstance(exc, openai.APIConnectionError):
            msg = f"{where} cannot be reached (is the server running?): check KMART_OPENAI_BASE_URL or choose another backend."
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = f"{where} refused the API key (HTTP {exc.status_code}): check KMART_OPENAI_API_KEY."
        elif isinstance(exc, openai.NotFoundError):
            msg = (f"{where} answered HTTP 404 for model {self._model!r}: check the base URL (it usually ends in /v1) "
                   f"and KMART_OPENAI_MODEL.")
        elif isinstance(exc, openai.APIStatusError):
            msg = f"{where} returned an error (HTTP {exc.status_code}): check the model name and the server's log."
        else:
            msg = f"{where} returned something that is not a chat completion ({type(exc).__name__}): check that it is OpenAI-compatible."
        return BackendError(self._scrub(msg))

    def _first_model(self) -> str:
        import openai

        try:
            models = self._client().models.list()
            ids = [m.id for m in getattr(models, "data", None) or [] if getattr(m, "id", None)]
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        except Exception as exc:  # garbage instead of a model list
            raise self._error(exc) from None
        if not ids:
            raise BackendError(f"The OpenAI-compatible endpoint {self.base_url} lists no model: set KMART_OPENAI_MODEL.")
        return ids[0]

    def chat(self, messages: list[dict], max_tokens: int = 512, stream: bool = False) -> str | Iterator[str]:
        model = self.model
        self.last_usage = None
        if stream:
            return self._stream(model, messages, max_tokens)
        import openai

        try:
            resp = self._client().chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                          temperature=0.0, stream=False)
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        try:
            content = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise BackendError(f"The OpenAI-compatible endpoint {self.base_url} returned something that is not a chat "
                               f"completion: check that the URL points at an OpenAI-compatible API (usually ending in /v1).")
        usage = getattr(resp, "usage", None)
        if usage is not None and isinstance(getattr(usage, "prompt_tokens", None), int):
            self.last_usage = {"prompt_tokens": usage.prompt_tokens,
                               "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0)}
        return content.strip()

    def _stream(self, model, messages, max_tokens) -> Iterator[str]:
        import openai

        produced = False
        try:
            events = self._client().chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                            temperature=0.0, stream=True)
            for event in events:
                try:
                    piece = event.choices[0].delta.content if event.choices else None
                except (AttributeError, IndexError, TypeError):
                    raise BackendError(f"The OpenAI-compatible endpoint {self.base_url} streamed something that is "
                                       f"not a chat completion: check that it is OpenAI-compatible.") from None
                if piece:
                    produced = True
                    yield piece
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        if not produced:
            raise BackendError(f"The OpenAI-compatible endpoint {self.base_url} streamed no text: check the model "
                               f"name and that the server is OpenAI-compatible.")


# ---------------------------------------------------------------------------------------------- make
def openai_settings_from_env() -> dict:
    """Base URL, model and key from the environment (the key is passed on, never printed)."""
    return {"base_url": os.environ.get("KMART_OPENAI_BASE_URL"), "model": os.environ.get("KMART_OPENAI_MODEL"),
            "api_key": os.environ.get("KMART_OPENAI_API_KEY")}


_LOCAL_BACKENDS: dict[tuple, LocalBackend] = {}


def make_backend(kind: str = "local", **settings) -> LLMBackend | None:
    """``local`` / ``openai`` / ``none`` (returns None: retrieval and templates only).

    local: ``model`` (a name of engine.ask.models.MODELS, default $KMART_LOCAL_MODEL or Qwen 1.5B),
    ``n_ctx``, ``n_threads`` (default $KMART_LLM_THREADS or 2), ``path`` (a GGUF file instead). openai: ``base_url``, ``model``,
    ``api_key``, ``timeout`` — each missing one comes from the environment.
    """
    kind = (kind or "none").lower()
    if kind == "none":
        return None
    if kind == "local":
        model = settings.get("model") or os.environ.get("KMART_LOCAL_MODEL") or DEFAULT_LOCAL_MODEL
        spec(model)  # unknown name -> one sentence
        threads = int(settings.get("n_threads") or os.environ.get("KMART_LLM_THREADS") or 2)
        key = (model, settings.get("n_ctx") or DEFAULT_N_CTX, threads, settings.get("path"))
        if key not in _LOCAL_BACKENDS:
            _LOCAL_BACKENDS[key] = LocalBackend(model, n_ctx=key[1], n_threads=key[2], path=key[3])
        return _LOCAL_BACKENDS[key]
    if kind == "openai":
        env = openai_settings_from_env()
        return OpenAIBackend(base_url=settings.get("base_url") or env["base_url"],
                             model=settings.get("model") or env["model"],
                             api_key=settings.get("api_key") or env["api_key"],
                             timeout=settings.get("timeout") or float(os.environ.get("KMART_OPENAI_TIMEOUT", DEFAULT_TIMEOUT_S)))
    raise ValueError(f"Unknown backend {kind!r}: choose local, openai or none.")
