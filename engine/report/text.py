"""The report's words in English and Korean, and how its numbers are printed.

Every number in the PDF goes through one of the ``fmt_*`` functions below, so a test can format the
JSON's value the same way and find it in the PDF's text.
"""

from __future__ import annotations

import math


def _ok(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def fmt_qty(x) -> str:
    """Units, values and money: whole numbers with thousands separators (1,234)."""
    return f"{x:,.0f}" if _ok(x) else "–"


def fmt_rmse(x) -> str:
    return f"{x:,.1f}" if _ok(x) else "–"


def fmt_pct(x, digits: int = 1) -> str:
    """A fraction as a percentage (0.123 -> 12.3%)."""
    return f"{100 * x:.{digits}f}%" if _ok(x) else "–"


def fmt_lift(x) -> str:
    """A lift already in percent (12.3 -> +12%)."""
    return f"{x:+.0f}%" if _ok(x) else "–"


def fmt_ratio(x) -> str:
    return f"{x:.2f}" if _ok(x) else "–"


def fmt_times(x) -> str:
    return f"{x:.2f}x" if _ok(x) else "–"


def fmt_p(p) -> str:
    if not _ok(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_r(x) -> str:
    return f"{x:+.2f}" if _ok(x) else "–"


STRINGS = {
    "en": {
        "title": "K-Mart pilot report",
        "subtitle": "Store {store} · products {products} · evaluated {span}",
        "reproduce": "Every number below is printed by: {command} (add --json for the numbers).",
        "h1": "1. The question, the data and its patterns",
        "question": ("The question: how much stock does store {store} need to hold so that it loses (almost) no sales, when each "
                     "evening at 22:00 it orders what it expects to sell LeadTime days later? The answer rests on a forecast of those "
                     "sales, so this report checks the data, the patterns a forecast can use, the forecasts against simple baselines, "
                     "and finally the stock and lost sales that an honest ordering policy gives."),
        "data_period": ("Data: {start} to {end} ({days:,} days), {stores} stores, {n_products} products; store {store} has {rows:,} sales rows. "
                        "{filled:,} days of that period had no oil price and took the last known price."),
        "reproduce_end": "Every number in this report is printed by: {command} --json. The inventory tables equal these two commands:",
        "checks": "Validation warnings ({n}):",
        "no_warnings": "Validation: no warnings.",
        "patterns_intro": ("Patterns of each product in store {store}, {start} to {end}: seasonality strength from an STL decomposition "
                           "(0 = none, 1 = all variation), weekday-adjusted payday and holiday lifts (Welch p-value), and the correlation "
                           "of daily sales with the oil price and with the store's customers (best lag 0–14 days; stable = same sign in "
                           "at least 80% of 90-day windows)."),
        "pattern_cols": ["product", "weekly", "yearly", "payday lift (p)", "holiday lift (p)", "oil r (lag)", "oil stable",
                         "customers r (lag)", "customers stable"],
        "yes": "yes", "no": "no",
        "h2": "2. Forecasting",
        "target": ("Target: the units sold LeadTime days after the order day (LeadTime {lead}), forecast at 22:00 of the order day from "
                   "data up to that day. Windows: {windows}. In each window every model is trained only on days before it, and the "
                   "model with the lowest forward-chaining validation WAPE (3 folds of 28 days before the window) is chosen. RMSE and "
                   "WAPE pool all test days; MASE is the day-weighted mean of the windows' MASE (below 1 beats the seasonal naive "
                   "forecast of the training data). The ensemble (mean of the 2–3 best) exists only in windows where it won validation, "
                   "so it is listed only when it ran in every window; the bold row pools each window's chosen model."),
        "fc_cols": ["product", "model", "kind", "RMSE", "WAPE", "MASE", "valid. WAPE", "chosen in"],
        "kind_baseline": "baseline", "kind_candidate": "candidate", "kind_chosen": "chosen",
        "chosen_row": "chosen by validation",
        "chosen_line": "Product {product}: chosen per window {picked}; WAPE {wape} vs {base} for the weekday-mean baseline; the 80% band covered {cov} of test days.",
        "chart_fc": "Actual (black) and the chosen forecast with its 80% band (forecast ± 1.28 × validation RMSE); shaded: the evaluated windows.",
        "resid_intro": "Residual tests of the chosen forecasts (actual − forecast over all test days):",
        "resid_cols": ["product", "test", "statistic", "p-value", "passed", "what it means"],
        "h3": "3. Inventory: honest policy, hindsight minimum, perfect-foresight bound",
        "inv_intro": ("Simulated {start} to {end} under the pilot's rules (order at 22:00, delivery LeadTime days later, order-up-to "
                      "forecast of the lead window + safety stock − stock − in transit). Honest policy: the order sheet's own rule ({setting}): "
                      "each evening the safety stock is the quantile of that evening's out-of-sample forecast errors, with models "
                      "retrained before each month on the days before it. Hindsight minimum: the smallest constant safety stock that "
                      "loses nothing in the window — it uses the future. Bound: orders equal to the real demand (perfect foresight). "
                      "Inventory value = average stock × price × 50%."),
        "inv_cols": ["product", "policy", "avg stock", "avg inventory value", "turnover", "lost units", "lost value", "fill rate", "× bound"],
        "policy_honest": "honest ({setting})", "policy_hindsight": "hindsight minimum (uses the future)", "policy_bound": "perfect-foresight bound",
        "total": "total",
        "chart_inv": "Average inventory value per product and policy.",
        "chart_stock": "Product {product}, last {days} days of the honest policy: opening and closing stock (lines), arrivals and lost sales (bars) — the Inventory page's chart.",
        "h4": "4. What to do next",
        "next_intro": "Generated by fixed rules from the numbers above (not by a language model):",
        "footer": "K-Mart pilot report · store {store} · page {page}",
        # charts
        "ax_index": "x an average day", "weekday_profile": "Weekday profile", "month_profile": "Month profile",
        "chart_profile": "Mean sales of each weekday and month divided by the mean of all days (closed days left out), {start} to {end}.",
        "ax_units": "units", "ax_units_sold": "units sold", "ax_value": "average inventory value",
        "s_actual": "actual", "s_forecast": "forecast", "s_band": "80% band",
        "s_opening": "opening", "s_closing": "closing", "s_arrivals": "arrivals", "s_lost": "lost sales",
        # rules
        "r_skill_good": "Product {product}: the chosen models beat the weekday-mean baseline by {skill} (WAPE {wape} vs {base}); keep choosing by validation.",
        "r_skill_bad": ("Product {product}: the chosen models do not beat the weekday-mean baseline (WAPE {wape} vs {base}); order with the "
                        "baseline for this product until a model beats it on more windows."),
        "r_skill_tie": ("Product {product}: the chosen models and the weekday-mean baseline are about equal (WAPE {wape} vs {base}); "
                        "the simpler baseline is enough until a model wins by more than 2% of its WAPE."),
        "r_ljung": "Forecast errors of product(s) {products} still carry a pattern (Ljung-Box p < 0.05): add lag or calendar columns before the next pilot.",
        "r_shapiro": "Forecast errors of product(s) {products} are not normal (Shapiro-Wilk p < 0.05): keep the empirical-quantile safety stock, not z × standard deviation.",
        "r_cover_low": ("The 80% band covered only {cov} of test days for product {product}: the errors before the windows understate "
                        "the errors in them; recalibrate the safety stock on more recent days."),
        "r_cover_high": "The 80% band covered {cov} of test days for product {product}: it is wider than needed; the safety stock may be too.",
        "r_fill_met": ("The honest policy ({setting}) reached a fill rate of {fill} with an average inventory value of {value} "
                       "({ratio} the perfect-foresight bound): roll it out to the store's ordering."),
        "r_fill_missed": ("The honest policy ({setting}) reached a fill rate of only {fill} (target {target}); raise the service level or "
                          "recalibrate it on more recent days before rolling it out."),
        "r_gap": ("Knowing the future would cut the average inventory value from {honest} to {hindsight} ({saving} less) without lost "
                  "sales; only better forecasts can close part of that gap."),
        "r_payday": "Paydays lift sales of product(s) {products} (p < 0.05): keep the payday column in the models.",
        "r_holiday": "Holidays move sales of product(s) {products} (p < 0.05): keep the holiday columns and check each holiday's own lift.",
        "r_oil_none": "The oil price has no stable link to the sales of any product: leave it out of the models.",
        "r_oil_some": "The oil price has a stable link to product(s) {products}: test an oil column in the models.",
        "r_cust": "The store's customer count moves with product(s) {products} in a stable way: keep the customer columns.",
        "r_oil_filled": "{days:,} days of oil price were filled with the last known price: ask the data source for the missing business days.",
        "r_windows": "Only {n} evaluation window(s): repeat the report on at least three months before deciding.",
    },
    "ko": {
        "title": "K-Mart 파일럿 보고서",
        "subtitle": "매장 {store} · 상품 {products} · 평가 기간 {span}",
        "reproduce": "아래 모든 숫자는 다음 명령이 출력합니다: {command} (숫자만 보려면 --json 추가).",
        "h1": "1. 질문, 데이터와 패턴",
        "question": ("질문: 매일 저녁 22시에 리드타임 후의 판매량을 예측해 주문할 때, 매장 {store}은(는) 판매 손실이 (거의) 없도록 재고를 "
                     "얼마나 유지해야 하는가? 답은 판매 예측에 달려 있으므로, 이 보고서는 데이터와 예측에 쓸 수 있는 패턴을 확인하고, "
                     "예측을 단순 기준 모델과 비교한 뒤, 정직한 주문 정책이 만드는 재고와 판매 손실을 보여 줍니다."),
        "data_period": ("데이터: {start} ~ {end} ({days:,}일), 매장 {stores}개, 상품 {n_products}개; 매장 {store}의 판매 행 {rows:,}개. "
                        "이 기간 중 유가가 없는 {filled:,}일은 마지막으로 알려진 가격으로 채웠습니다."),
        "reproduce_end": "이 보고서의 모든 숫자는 다음 명령이 출력합니다: {command} --json. 재고 표는 다음 두 명령과 같습니다:",
        "checks": "검증 경고 ({n}건):",
        "no_warnings": "검증: 경고 없음.",
        "patterns_intro": ("매장 {store} 상품별 패턴, {start} ~ {end}: STL 분해의 계절성 강도(0 = 없음, 1 = 전부), 요일을 보정한 급여일·"
                           "공휴일 효과(Welch p값), 일별 판매와 유가 및 매장 고객 수의 상관(최적 시차 0–14일; 안정 = 90일 창의 80% 이상에서 같은 부호)."),
        "pattern_cols": ["상품", "주간", "연간", "급여일 효과 (p)", "공휴일 효과 (p)", "유가 r (시차)", "유가 안정",
                         "고객 r (시차)", "고객 안정"],
        "yes": "예", "no": "아니오",
        "h2": "2. 수요 예측",
        "target": ("예측 대상: 주문일로부터 리드타임(LeadTime {lead})일 후의 판매량, 주문일 22시에 그날까지의 데이터로 예측. 평가 창: {windows}. "
                   "각 창에서 모든 모델은 창 이전의 날로만 학습하고, 창 직전 전진 검증(28일 3개 구간)의 WAPE가 가장 낮은 모델을 선택합니다. "
                   "RMSE와 WAPE는 모든 평가일을 합쳐 계산하고, MASE는 창별 MASE의 일수 가중 평균입니다(1 미만이면 계절 나이브보다 우수). "
                   "앙상블(상위 2–3개 모델의 평균)은 검증에서 이긴 창에만 있으므로 모든 창에 있을 때만 표에 나오며, 굵은 행은 창별로 선택된 모델을 합친 결과입니다."),
        "fc_cols": ["상품", "모델", "종류", "RMSE", "WAPE", "MASE", "검증 WAPE", "선택 횟수"],
        "kind_baseline": "기준", "kind_candidate": "후보", "kind_chosen": "선택",
        "chosen_row": "검증으로 선택",
        "chosen_line": "상품 {product}: 창별 선택 {picked}; WAPE {wape} (요일 평균 기준 모델 {base}); 80% 구간이 평가일의 {cov}를 포함.",
        "chart_fc": "실제(검정)와 선택된 예측 및 80% 구간(예측 ± 1.28 × 검증 RMSE); 음영: 평가 창.",
        "resid_intro": "선택된 예측의 잔차 검정(모든 평가일의 실제 − 예측):",
        "resid_cols": ["상품", "검정", "통계량", "p값", "통과", "의미"],
        "h3": "3. 재고: 정직한 정책, 사후 최소값, 완전 예지 한계",
        "inv_intro": ("{start} ~ {end}를 파일럿 규칙으로 모의 실험(22시 주문, 리드타임 후 입고, 목표 재고 = 리드타임 예측 + 안전재고 − 재고 − 운송 중). "
                      "정직한 정책: 발주표와 같은 규칙({setting}) — 매일 저녁 그날까지의 표본 외 예측 오차의 분위수로 안전재고를 정하고, 모델은 매월 그 이전 날로 다시 학습합니다. "
                      "사후 최소값: 기간 중 손실이 없는 가장 작은 고정 안전재고 — 미래를 사용합니다. "
                      "한계: 실제 수요만큼 주문(완전 예지). 재고 금액 = 평균 재고 × 가격 × 50%."),
        "inv_cols": ["상품", "정책", "평균 재고", "평균 재고 금액", "회전율", "손실 수량", "손실 금액", "충족률", "× 한계"],
        "policy_honest": "정직한 정책 ({setting})", "policy_hindsight": "사후 최소값 (미래 사용)", "policy_bound": "완전 예지 한계",
        "total": "합계",
        "chart_inv": "상품·정책별 평균 재고 금액.",
        "chart_stock": "상품 {product}, 정직한 정책의 마지막 {days}일: 시작·마감 재고(선), 입고와 판매 손실(막대) — 재고 페이지의 차트.",
        "h4": "4. 다음 할 일",
        "next_intro": "위 숫자에서 고정된 규칙으로 생성했습니다(언어 모델을 쓰지 않음):",
        "footer": "K-Mart 파일럿 보고서 · 매장 {store} · {page}쪽",
        "ax_index": "평균일 대비 배수", "weekday_profile": "요일별 패턴", "month_profile": "월별 패턴",
        "chart_profile": "요일·월별 평균 판매 ÷ 전체 평균(휴점일 제외), {start} ~ {end}.",
        "ax_units": "수량", "ax_units_sold": "판매 수량", "ax_value": "평균 재고 금액",
        "s_actual": "실제", "s_forecast": "예측", "s_band": "80% 구간",
        "s_opening": "시작 재고", "s_closing": "마감 재고", "s_arrivals": "입고", "s_lost": "판매 손실",
        "r_skill_good": "상품 {product}: 선택된 모델이 요일 평균 기준 모델보다 {skill} 좋습니다(WAPE {wape} 대 {base}); 검증으로 모델을 고르는 방식을 유지하세요.",
        "r_skill_bad": "상품 {product}: 선택된 모델이 요일 평균 기준 모델을 이기지 못합니다(WAPE {wape} 대 {base}); 더 많은 창에서 이기는 모델이 나올 때까지 기준 모델로 주문하세요.",
        "r_skill_tie": "상품 {product}: 선택된 모델과 요일 평균 기준 모델이 거의 같습니다(WAPE {wape} 대 {base}); 모델이 WAPE를 2% 넘게 줄이기 전까지는 더 단순한 기준 모델로 충분합니다.",
        "r_ljung": "상품 {products}의 예측 오차에 아직 패턴이 남아 있습니다(Ljung-Box p < 0.05): 다음 파일럿 전에 시차 또는 달력 변수를 추가하세요.",
        "r_shapiro": "상품 {products}의 예측 오차는 정규분포가 아닙니다(Shapiro-Wilk p < 0.05): z × 표준편차가 아닌 경험적 분위수 안전재고를 유지하세요.",
        "r_cover_low": "상품 {product}의 80% 구간이 평가일의 {cov}만 포함했습니다: 창 이전의 오차가 창 안의 오차를 과소평가하므로 더 최근 날로 안전재고를 다시 맞추세요.",
        "r_cover_high": "상품 {product}의 80% 구간이 평가일의 {cov}를 포함했습니다: 필요보다 넓으며 안전재고도 그럴 수 있습니다.",
        "r_fill_met": "정직한 정책({setting})의 충족률은 {fill}, 평균 재고 금액은 {value}(완전 예지 한계의 {ratio})입니다: 매장 주문에 적용하세요.",
        "r_fill_missed": "정직한 정책({setting})의 충족률이 {fill}에 그쳤습니다(목표 {target}): 적용 전에 서비스 수준을 높이거나 최근 날로 다시 맞추세요.",
        "r_gap": "미래를 안다면 평균 재고 금액을 {honest}에서 {hindsight}로({saving} 감소) 손실 없이 줄일 수 있습니다; 그 차이의 일부는 더 나은 예측으로만 줄일 수 있습니다.",
        "r_payday": "급여일이 상품 {products}의 판매를 올립니다(p < 0.05): 모델에 급여일 변수를 유지하세요.",
        "r_holiday": "공휴일이 상품 {products}의 판매를 움직입니다(p < 0.05): 공휴일 변수를 유지하고 공휴일별 효과를 확인하세요.",
        "r_oil_none": "유가는 어떤 상품의 판매와도 안정적인 관계가 없습니다: 모델에서 빼세요.",
        "r_oil_some": "유가가 상품 {products}와 안정적인 관계를 보입니다: 모델에 유가 변수를 시험하세요.",
        "r_cust": "매장 고객 수가 상품 {products}와 안정적으로 함께 움직입니다: 고객 수 변수를 유지하세요.",
        "r_oil_filled": "유가 {days:,}일을 마지막으로 알려진 가격으로 채웠습니다: 데이터 제공처에 빠진 영업일 가격을 요청하세요.",
        "r_windows": "평가 창이 {n}개뿐입니다: 결정하기 전에 최소 3개월로 보고서를 다시 만드세요.",
    },
}

HEADINGS = ("h1", "h2", "h3", "h4")


def t(lang: str, key: str, **kw) -> str:
    text = STRINGS[lang][key]
    return text.format(**kw) if kw else text


def service_level(setting: str) -> float | None:
    """0.99 from 'service-level:0.99' (None for other safety stock settings)."""
    if not setting.startswith("service-level"):
        return None
    _, _, level = setting.partition(":")
    return float(level) if level else 0.99


def setting_words(lang: str, setting: str) -> str:
    level = service_level(setting)
    if level is not None:
        return f"{fmt_pct(level, 1).replace('.0%', '%')} service level" if lang == "en" else f"서비스 수준 {fmt_pct(level, 1).replace('.0%', '%')}"
    return setting
