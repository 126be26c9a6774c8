"""Draw the report's numbers as a 4-page A4 PDF with ReportLab (platypus flowables).

One section per page: 1) question, data checks, patterns; 2) forecasting; 3) inventory; 4) what to
do next. Each section is a ``KeepInFrame`` in shrink mode, so a long warning list or many products
scale the page down instead of spilling onto a fifth page. Numbers are printed with the
``engine.report.text`` formats; the document is written with ReportLab's ``invariant`` flag, so the
same numbers give the same bytes.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from engine.report.fonts import ReportFonts, report_fonts
from engine.report.text import (fmt_lift, fmt_p, fmt_pct, fmt_qty, fmt_r, fmt_ratio, fmt_rmse, fmt_times, setting_words, t)
from engine.report.windows import windows_text

MAX_WARNINGS = 8
ASCII_SAFE = {"−": "-", "≤": "<=", "≥": ">="}  # Helvetica (WinAnsi) and NanumGothic have no glyph for these


def _styles(fonts: ReportFonts):
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=fonts.regular, bulletFontName=fonts.regular, fontSize=8.2, leading=10.6, spaceAfter=3, splitLongWords=1)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=fonts.bold, fontSize=17, leading=21, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, leading=13, textColor=colors.HexColor("#444444")),
        "h": ParagraphStyle("h", parent=base, fontName=fonts.bold, fontSize=12.5, leading=16, spaceBefore=4, spaceAfter=4,
                            textColor=colors.HexColor("#1f3b63")),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9.2, textColor=colors.HexColor("#333333")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=6.9, leading=8.4, spaceAfter=0),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=fonts.bold, fontSize=6.9, leading=8.4, spaceAfter=0),
        "bullet": ParagraphStyle("bullet", parent=base, fontSize=9, leading=12.2, leftIndent=12, bulletIndent=2, spaceAfter=5),
    }


class _Writer:
    def __init__(self, report: dict, lang: str, fonts: ReportFonts):
        self.r, self.lang, self.fonts = report, lang, fonts
        self.st = _styles(fonts)

    def text(self, s: str) -> str:
        for a, b in ASCII_SAFE.items():
            s = s.replace(a, b)
        return escape(s)

    def p(self, s: str, style: str = "body"):
        from reportlab.platypus import Paragraph

        return Paragraph(self.text(s), self.st[style])

    def table(self, header: list[str], rows: list[list], widths=None, bold_rows=(), shade_groups=None):
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

        data = [[self.p(h, "cellb") for h in header]]
        for i, row in enumerate(rows):
            data.append([self.p(str(c), "cellb" if i in bold_rows else "cell") for c in row])
        tbl = Table(data, colWidths=widths, repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
                 ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                 ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5)]
        for i, g in enumerate(shade_groups or []):
            if g % 2:
                style.append(("BACKGROUND", (0, i + 1), (-1, i + 1), colors.HexColor("#f6f6f6")))
        tbl.setStyle(TableStyle(style))
        return tbl

    def image(self, png: bytes, width: float):
        from reportlab.lib.utils import ImageReader
        from reportlab.platypus import Image

        w, h = ImageReader(io.BytesIO(png)).getSize()
        return Image(io.BytesIO(png), width=width, height=width * h / w)

    # ------------------------------------------------------------ pages

    def page1(self, width: float, charts: dict) -> list:
        r, lang = self.r, self.lang
        d = r["data"]
        span = f"{r['windows'][0]['start']} – {r['windows'][-1]['end']}"
        out = [self.p(t(lang, "title"), "title"),
               self.p(t(lang, "subtitle", store=r["store"], products=", ".join(map(str, r["products"])), span=span), "subtitle"),
               self.p(t(lang, "reproduce", command=r["command"]), "small"),
               self.p(t(lang, "h1"), "h"), self.p(t(lang, "question", store=r["store"])),
               self.p(t(lang, "data_period", start=d["start"], end=d["end"], days=d["days"], stores=d["stores"], n_products=d["products"],
                        store=r["store"], rows=d["sales_rows"], filled=d["filled_oil_days"]))]
        if d["warnings"]:
            out.append(self.p(t(lang, "checks", n=len(d["warnings"]))))
            for w in d["warnings"][:MAX_WARNINGS]:
                out.append(self.p(f"• {w}", "small"))
            if len(d["warnings"]) > MAX_WARNINGS:
                out.append(self.p(f"• (+{len(d['warnings']) - MAX_WARNINGS})", "small"))
        else:
            out.append(self.p(t(lang, "no_warnings")))
        pats = r["patterns"]
        out.append(self.p(t(lang, "patterns_intro", store=r["store"], start=pats[0]["start"], end=pats[0]["end"])))
        yes, no = t(lang, "yes"), t(lang, "no")
        rows = [[f"{p['product']} {p['name']}", fmt_ratio(p["weekly_strength"]), fmt_ratio(p["yearly_strength"]),
                 f"{fmt_lift(p['payday']['lift_pct'])} ({fmt_p(p['payday']['p_value'])})",
                 f"{fmt_lift(p['holiday']['lift_pct'])} ({fmt_p(p['holiday']['p_value'])})",
                 f"{fmt_r(p['oil']['r'])} ({p['oil']['lag']})", yes if p["oil"]["stable"] else no,
                 f"{fmt_r(p['customers']['r'])} ({p['customers']['lag']})", yes if p["customers"]["stable"] else no] for p in pats]
        out.append(self.table(t(lang, "pattern_cols"), rows, widths=[x * width for x in (.17, .08, .08, .13, .13, .11, .08, .13, .09)]))
        out.append(self.p(" "))
        for p in pats:
            out.append(self.p(f"{p['product']} {p['name']}: " + " ".join(self._verdicts(p)), "small"))
        out.append(self.image(charts["profile"], width * 0.9))
        out.append(self.p(t(lang, "chart_profile", start=pats[0]["start"], end=pats[0]["end"]), "small"))
        return out

    def _verdicts(self, p: dict) -> list[str]:
        if self.lang == "en":
            return [p["weekly_verdict"].split(": ", 1)[-1], p["holiday_verdict"], "Oil: " + p["oil"]["verdict"], "Customers: " + p["customers"]["verdict"]]
        words = {True: "안정적 → 모델 변수로 쓸 만함", False: "불안정하거나 약함 → 의존하지 말 것"}
        return [f"주간 계절성 강도 {fmt_ratio(p['weekly_strength'])}, 연간 {fmt_ratio(p['yearly_strength'])}.",
                f"유가 r = {fmt_r(p['oil']['r'])} (시차 {p['oil']['lag']}일): {words[p['oil']['stable']]}.",
                f"고객 수 r = {fmt_r(p['customers']['r'])} (시차 {p['customers']['lag']}일): {words[p['customers']['stable']]}."]

    def page2(self, width: float, charts: dict) -> list:
        r, lang = self.r, self.lang
        fc = r["forecast"]
        leads = sorted({fp["lead_time"] for fp in fc["products"]})
        out = [self.p(t(lang, "h2"), "h"),
               self.p(t(lang, "target", lead=", ".join(map(str, leads)), windows=self._windows()))]
        rows, groups, bold = [], [], []
        for g, fp in enumerate(fc["products"]):
            for m in fp["models"]:
                rows.append([fp["product"], m["model"], t(lang, f"kind_{m['kind']}"), fmt_rmse(m["rmse"]), fmt_pct(m["wape"]), fmt_ratio(m["mase"]),
                             fmt_pct(m["validation_wape"]), f"{m['chosen_in']}/{len(r['windows'])}"])
                groups.append(g)
            c = fp["chosen"]
            bold.append(len(rows))
            rows.append([fp["product"], t(lang, "chosen_row"), t(lang, "kind_chosen"), fmt_rmse(c["rmse"]), fmt_pct(c["wape"]), fmt_ratio(c["mase"]), "", ""])
            groups.append(g)
        out.append(self.table(t(lang, "fc_cols"), rows, widths=[x * width for x in (.08, .22, .12, .12, .1, .1, .13, .13)], bold_rows=bold,
                              shade_groups=groups))
        out.append(self.p(" "))
        for fp in fc["products"]:
            base = next((m for m in fp["models"] if m["model"] == fp["baseline"]), {"wape": None})
            picked = ", ".join(f"{k[:7]}: {v}" for k, v in fp["chosen"]["picked"].items())
            out.append(self.p(t(lang, "chosen_line", product=fp["product"], picked=picked, wape=fmt_pct(fp["chosen"]["wape"]),
                                base=fmt_pct(base["wape"]), cov=fmt_pct(fp["band"]["coverage"], 0)), "small"))
        out.append(self.image(charts["forecast"], width))
        out.append(self.p(t(lang, "chart_fc"), "small"))
        out.append(self.p(t(lang, "resid_intro")))
        rows = []
        for fp in fc["products"]:
            for x in fp["residual_tests"]:
                rows.append([fp["product"], x["test"], fmt_ratio(x["statistic"]), fmt_p(x["p_value"]), t(lang, "yes") if x["passed"] else t(lang, "no"),
                             self._meaning(x)])
        if rows:
            out.append(self.table(t(lang, "resid_cols"), rows, widths=[x * width for x in (.07, .1, .08, .07, .06, .62)]))
        return out

    def _meaning(self, x: dict) -> str:
        if self.lang == "en":
            return x["sentence"]
        ko = {("Shapiro-Wilk", True): "정규분포로 볼 수 있음: 정규 기반 안전재고도 가능", ("Shapiro-Wilk", False): "정규분포 아님: 경험적 분위수 안전재고 사용",
              ("ADF", True): "오차 수준이 안정적(정상성)", ("ADF", False): "오차 수준이 흔들림: 추세나 수준 변화를 모델링",
              ("Ljung-Box", True): "남은 패턴 없음(백색 잡음)", ("Ljung-Box", False): "패턴이 남음: 시차·달력 변수 추가"}
        return ko.get((x["test"], x["passed"]), "")

    def _windows(self) -> str:
        import datetime as dt

        ws = [(dt.date.fromisoformat(w["start"]), dt.date.fromisoformat(w["end"])) for w in self.r["windows"]]
        try:
            return windows_text(ws)
        except ValueError:
            return ", ".join(f"{a}..{b}" for a, b in ws)

    def page3(self, width: float, charts: dict) -> list:
        r, lang = self.r, self.lang
        inv = r["inventory"]
        setting = setting_words(lang, inv["policies"][0]["setting"])
        out = [self.p(t(lang, "h3"), "h"), self.p(t(lang, "inv_intro", start=inv["start"], end=inv["end"], setting=setting))]
        names = {"honest": t(lang, "policy_honest", setting=setting), "hindsight": t(lang, "policy_hindsight"), "bound": t(lang, "policy_bound")}
        rows, groups, bold = [], [], []
        keys = [*[(p, False) for p in r["products"]], ("total", True)]
        for g, (product, is_total) in enumerate(keys):
            for pol in inv["policies"]:
                k = pol["total"] if is_total else next(x for x in pol["products"] if x["product"] == product)
                if is_total:
                    bold.append(len(rows))
                rows.append([t(lang, "total") if is_total else product, names[pol["policy"]], fmt_qty(k.get("avg_stock_qty")), fmt_qty(k.get("avg_inventory_value")),
                             fmt_ratio(k.get("turnover")), fmt_qty(k.get("lost_qty")), fmt_qty(k.get("lost_value")), fmt_pct(k.get("fill_rate")),
                             fmt_times(k.get("ratio_to_bound"))])
                groups.append(g)
        out.append(self.table(t(lang, "inv_cols"), rows, widths=[x * width for x in (.07, .25, .09, .12, .08, .09, .1, .09, .11)], bold_rows=bold,
                              shade_groups=groups))
        out.append(self.p(" ", "small"))
        for pol in inv["policies"][:2]:
            labels = "; ".join(f"{x['product']}: {x['safety_label']} ({x['model']})" for x in pol["products"])
            out.append(self.p(f"{names[pol['policy']]} — {labels}", "small"))
        out.append(self.image(charts["inventory"], width * 0.72))
        out.append(self.p(t(lang, "chart_inv"), "small"))
        out.append(self.image(charts["stock"], width * 0.92))
        out.append(self.p(t(lang, "chart_stock", product=inv["stock_chart"]["product"], days=len(inv["stock_chart"]["days"])), "small"))
        return out

    def page4(self, width: float) -> list:
        from reportlab.platypus import Paragraph

        out = [self.p(t(self.lang, "h4"), "h"), self.p(t(self.lang, "next_intro"))]
        for i, step in enumerate(self.r["next_steps"], 1):
            out.append(Paragraph(self.text(step["text"]), self.st["bullet"], bulletText=f"{i}."))
        out.append(self.p(" "))
        out.append(self.p(t(self.lang, "reproduce_end", command=self.r["command"]), "small"))
        for cmd in self.r["inventory"]["commands"].values():
            out.append(self.p(cmd, "small"))
        return out


def render_pdf(report: dict, charts: dict[str, bytes] | None = None) -> bytes:
    """The PDF bytes of a ``build_report`` result (charts rendered here unless given)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import BaseDocTemplate, Frame, KeepInFrame, PageBreak, PageTemplate

    from engine.report.charts import all_charts

    lang = report["lang"]
    fonts = report_fonts(lang)
    if charts is None:
        charts = all_charts(report, lang, fonts.chart_font, fonts.chart_dir)
    w = _Writer(report, lang, fonts)
    buf = io.BytesIO()
    margin = 14 * mm
    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin, bottomMargin=margin + 4 * mm,
                          title=t(lang, "title"), author="K-Mart engine", subject=report["command"], invariant=1,
                          initialFontName=fonts.regular)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    def footer(canvas, d):
        canvas.saveState()
        canvas.setFont(fonts.regular, 7)
        canvas.drawString(margin, 8 * mm, w.text(t(lang, "footer", store=report["store"], page=d.page)).replace("&amp;", "&"))
        canvas.restoreState()

    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=footer)])
    width, height = doc.width, doc.height - 2
    sections = [w.page1(width, charts), w.page2(width, charts), w.page3(width, charts), w.page4(width)]
    story = []
    for i, flowables in enumerate(sections):
        if i:
            story.append(PageBreak())
        story.append(KeepInFrame(width, height, flowables, mode="shrink"))
    doc.build(story)
    return buf.getvalue()
