"""The one call behind ``python -m engine report`` and the Inventory page's download button."""

from __future__ import annotations

from engine.data.dataset import Dataset
from engine.report.numbers import build_report
from engine.report.pdf import render_pdf
from engine.report.windows import parse_windows


def pilot_report(ds: Dataset, store: int, products, windows=None, lang: str = "en", models: str = "auto",
                 safety_stock: str = "service-level:0.99", models_dir=None, out_name: str = "report.pdf", pdf: bool = True,
                 progress=None, inventory_model: str = "auto") -> tuple[dict, bytes | None]:
    """(the report's numbers, the PDF bytes or None when ``pdf`` is False).

    ``windows``: text as on the command line ("2016-07..2016-12", "2016-12", "2016-12-01..2016-12-14"),
    a list of (start, end) dates, or None for the last three full months of the data."""
    if windows is None or isinstance(windows, str):
        windows = parse_windows(windows, ds.start, ds.end)
    numbers = build_report(ds, store, products, windows, lang=lang, models=models, safety_stock=safety_stock, models_dir=models_dir,
                           progress=progress, inventory_model=inventory_model)
    numbers["command"] = numbers["command"].replace("--out report.pdf", f"--out {out_name}")
    return numbers, (render_pdf(numbers) if pdf else None)
