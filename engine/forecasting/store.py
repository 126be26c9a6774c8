"""Saved models: one folder per fitted model with model.pkl (+ net.keras for neural ones) and meta.json.

A model is reused instead of retrained when its key (series, model, params, horizons, training end,
code version) and the fingerprint of the training data it saw are unchanged. Writes go to a
temporary folder renamed into place, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from pathlib import Path

from engine.data.storage import state_dir

MODEL_VERSION = 4  # 2: selection folds spread over the year, recency-weighted score; 3: faster pooled_lgbm (150 trees at 0.1, 63 bins); 4: its yoy_season feature


def default_models_dir(ds) -> Path:
    return state_dir(Path(ds.folder) if ds.folder else None) / "models"


def model_key(store: int, product: int, name: str, params: dict, horizons, train_end, purpose: str = "final") -> str:
    spec = json.dumps({"v": MODEL_VERSION, "params": params, "h": list(horizons), "purpose": purpose}, sort_keys=True)
    digest = hashlib.sha256(spec.encode()).hexdigest()[:10]
    return f"s{store}_p{product}_{name}_{train_end}_{digest}"


class ModelStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / key

    def load(self, key: str, fingerprint: str):
        """(model, meta) when a model with this key was fitted on the same data, else None."""
        path = self.path(key)
        try:
            meta = json.loads((path / "meta.json").read_text())
            if meta.get("training_fingerprint") != fingerprint or meta.get("version") != MODEL_VERSION:
                return None
            with open(path / "model.pkl", "rb") as f:
                model = pickle.load(f)
            if hasattr(model, "load_extra"):
                model.load_extra(path)
            return model, meta
        except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return None

    def saved(self) -> list[dict]:
        """The metadata of every saved model (folder order; unreadable or half-written ones left out).
        The one reader of ``meta.json`` besides ``load``: the Ask documents list models through it."""
        out = []
        for meta_path in sorted(self.folder.glob("*/meta.json")) if self.folder.is_dir() else []:
            if meta_path.parent.name.startswith("."):
                continue  # a save in progress
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict):
                out.append(meta)
        return out

    def save(self, key: str, model, meta: dict) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        tmp = self.folder / f".{key}.tmp-{os.getpid()}-{time.time_ns()}"
        tmp.mkdir()
        try:
            if hasattr(model, "save_extra"):
                model.save_extra(tmp)
            with open(tmp / "model.pkl", "wb") as f:
                pickle.dump(model, f)
            (tmp / "meta.json").write_text(json.dumps({**meta, "version": MODEL_VERSION}, indent=2, default=str))
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.exists():  # another process saving the same model at the same time wins
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final
