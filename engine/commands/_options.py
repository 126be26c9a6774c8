"""Option values several commands parse the same way."""

from __future__ import annotations


def product_ids(text: str | None, example: str = "3,12") -> list[int] | None:
    """'3,12' -> [3, 12]; None, '' or 'all' -> None (every product of the store)."""
    if text is None or str(text).strip().lower() in ("", "all"):
        return None
    try:
        return [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--products must be product ids separated by commas (e.g. {example}), not {text!r}.") from None
