"""Which fonts the report embeds.

English uses ReportLab's built-in Helvetica (no file needed). Korean needs a TrueType font with
Hangul glyphs, embedded (subset) into the PDF: NanumGothic from Debian's ``fonts-nanum``
(``/usr/share/fonts/truetype/nanum``), or any TTF named by ``KMART_REPORT_FONT`` (its bold face,
if any, by ``KMART_REPORT_FONT_BOLD``). The same folder is given to vl-convert for the charts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NANUM_DIR = Path("/usr/share/fonts/truetype/nanum")
KOREAN_REGULAR = NANUM_DIR / "NanumGothic.ttf"
KOREAN_BOLD = NANUM_DIR / "NanumGothicBold.ttf"


@dataclass(frozen=True)
class ReportFonts:
    regular: str  # ReportLab font name
    bold: str
    chart_font: str | None  # font family for vl-convert (None = its default)
    chart_dir: str | None  # folder to register with vl-convert


def report_fonts(lang: str) -> ReportFonts:
    """The fonts for ``lang``; one clear sentence when the Korean font is missing."""
    if lang != "ko":
        return ReportFonts("Helvetica", "Helvetica-Bold", None, None)
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular = Path(os.environ.get("KMART_REPORT_FONT") or KOREAN_REGULAR)
    bold = Path(os.environ.get("KMART_REPORT_FONT_BOLD") or (KOREAN_BOLD if not os.environ.get("KMART_REPORT_FONT") else regular))
    if not regular.is_file():
        raise ValueError(f"the Korean report needs a Korean TrueType font and {regular} does not exist; install fonts-nanum "
                         "(sudo apt-get install fonts-nanum) or set KMART_REPORT_FONT to a .ttf file with Hangul.")
    if not bold.is_file():
        bold = regular
    name, bold_name = f"Report-{regular.stem}", f"Report-{bold.stem}-Bold"
    registered = pdfmetrics.getRegisteredFontNames()
    if name not in registered:
        pdfmetrics.registerFont(TTFont(name, str(regular)))
    if bold_name not in registered:
        pdfmetrics.registerFont(TTFont(bold_name, str(bold)))
    return ReportFonts(name, bold_name, "NanumGothic" if regular.parent == NANUM_DIR else None, str(regular.parent))
