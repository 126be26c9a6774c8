"""The pilot report: a 3–4 page A4 PDF (data and patterns, forecasting, inventory, what to do next).

``build_report`` (``engine.report.numbers``) computes every number once; ``render_pdf``
(``engine.report.pdf``) draws them with ReportLab and the app's Altair charts rendered by
vl-convert; ``python -m engine report`` and the Inventory page's download button call both.
"""
