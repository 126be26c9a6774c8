"""Results kept per ``Dataset`` object for as long as that object lives.

Several layers derive the same thing many times from one loaded data set (the oil and customer
feature frames, a store's pooled panel, a fold's backtest fit). ``dataset_memo(ds)`` hands out one
dict per Dataset object, keyed by the object itself through a weak reference, so a changed copy of
the data never shares an entry and a freed Dataset's entries go with it. ``functools.lru_cache``
cannot do this: it would keep every Dataset alive and key by equality (a full table compare).
"""

from __future__ import annotations

import threading
import weakref

_MEMOS: dict[int, tuple[weakref.ref, dict]] = {}
_LOCK = threading.Lock()


def dataset_memo(ds) -> dict:
    """The memo dict of this Dataset object (created empty on first use)."""
    with _LOCK:
        entry = _MEMOS.get(id(ds))
        if entry is None or entry[0]() is not ds:
            for key in [k for k, (ref, _) in _MEMOS.items() if ref() is None]:
                _MEMOS.pop(key, None)
            entry = (weakref.ref(ds), {})
            _MEMOS[id(ds)] = entry
        return entry[1]


def clear() -> None:
    with _LOCK:
        _MEMOS.clear()
