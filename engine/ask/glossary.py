"""KO->EN glossary of product, store and KPI terms, applied before anything else ("dictionary first").

``apply_glossary`` rewrites a Korean question in English terms (ids, dates, then ``GLOSSARY`` terms longest
first), so entities, retrieval and the SQL prompt read the same words in both languages.
"""

from __future__ import annotations

import re

# Fixed retail / KPI words (Korean -> English). Longest match wins in apply_glossary.
TERMS: dict[str, str] = {
    # places and things
    "매장": "store", "점포": "store", "지점": "store", "호점": "store", "가게": "store",
    "상품": "product", "제품": "product", "품목": "product", "아이템": "product",
    "카테고리": "category", "분류": "category", "도시": "city", "지역": "state",
    "매장유형": "store type", "매장 유형": "store type",
    # quantities
    "판매량": "sales qty", "판매수량": "sales qty", "판매 수량": "sales qty", "판매": "sales", "매출": "sales",
    "팔린": "sold", "팔았": "sold", "수량": "qty",
    "발주량": "order qty", "발주 수량": "order qty", "발주": "order", "주문량": "order qty", "주문": "order",
    "권장 발주": "recommended order", "권장발주": "recommended order", "확정": "confirmed",
    "재고": "stock", "안전재고": "safety stock", "안전 재고": "safety stock", "기말재고": "closing stock",
    "마감 재고": "closing stock", "입고": "arrival", "운송 중": "in transit", "리드타임": "lead time",
    "리드 타임": "lead time", "조달기간": "lead time", "가격": "price", "단가": "price", "판매가": "price",
    "고객수": "customers", "고객 수": "customers", "방문객": "customers", "방문자": "customers", "손님": "customers",
    "고객": "customers", "거래건수": "customers", "유가": "oil price", "기름값": "oil price", "국제유가": "oil price",
    "예측": "forecast", "수요 예측": "demand forecast", "수요예측": "demand forecast", "수요": "demand",
    "오차": "error", "정확도": "accuracy", "모델": "model", "서비스 수준": "service level", "서비스수준": "service level",
    "결품": "stockout", "품절": "stockout", "휴일": "holiday", "공휴일": "holiday", "주말": "weekend", "평일": "weekday",
    # periods
    "지난주": "last week", "지난 주": "last week", "전주": "last week", "저번 주": "last week", "저번주": "last week",
    "이번 주": "this week", "이번주": "this week", "금주": "this week",
    "지난달": "last month", "지난 달": "last month", "전월": "last month", "저번 달": "last month", "저번달": "last month",
    "이번 달": "this month", "이번달": "this month", "금월": "this month",
    "작년": "last year", "지난해": "last year", "지난 해": "last year", "전년": "last year", "올해": "this year", "금년": "this year",
    "어제": "yesterday", "오늘": "today", "일별": "by day", "일자별": "by day", "날짜별": "by day",
    "주별": "by week", "주간": "weekly", "월별": "by month", "월간": "monthly", "연도별": "by year", "연간": "yearly",
    "기간": "period", "최근": "last",
    # aggregates and rankings
    "합계": "sum", "총합": "sum", "총": "total", "전체": "total", "합": "sum", "평균": "average",
    "최대": "max", "최고": "max", "가장 많이": "most", "가장 많은": "most", "제일 많이": "most", "많이": "most",
    "최소": "min", "최저": "min", "가장 적게": "least", "가장 적은": "least",
    "순위": "top", "상위": "top", "랭킹": "ranking", "베스트": "top", "하위": "bottom",
    "몇 개": "how many", "몇개": "how many", "얼마": "how much", "개수": "count", "건수": "count",
    "메모": "notes memo", "바이어": "buyer", "구매 담당자": "buyer", "정책": "policy", "문서": "document", "요약": "summarize",
    "추세": "trend", "증가": "increase", "감소": "decrease", "비교": "compare", "왜": "why",
}

# Korean names of the usual product families (Favorita-style SubCategory) and the demo's categories.
PRODUCT_KO: dict[str, tuple[str, ...]] = {
    "AUTOMOTIVE": ("자동차용품", "자동차 용품", "차량용품"), "BABY CARE": ("유아용품", "유아 용품", "베이비케어", "아기용품"),
    "BEAUTY": ("뷰티", "화장품", "미용"), "BEVERAGES": ("음료수", "음료", "드링크"), "BOOKS": ("도서",), "CELEBRATION": ("파티용품",),
    "HOME AND KITCHEN I": ("주방용품 1",), "HOME AND KITCHEN II": ("주방용품 2",), "HOME APPLIANCES": ("가전",),
    "LADIESWEAR": ("여성의류",), "LAWN AND GARDEN": ("원예",), "LINGERIE": ("속옷",), "MAGAZINES": ("잡지",),
    "PLAYERS AND ELECTRONICS": ("전자제품",), "BREAD/BAKERY": ("빵", "베이커리", "제과"), "CLEANING": ("청소용품", "세제", "세정제"),
    "DAIRY": ("유제품", "우유"), "DELI": ("델리",), "EGGS": ("계란", "달걀"), "FROZEN FOODS": ("냉동식품", "냉동 식품"),
    "GROCERY I": ("식료품 1", "식료품1", "식료품 I", "식료품"), "GROCERY II": ("식료품 2", "식료품2", "식료품 II"),
    "HARDWARE": ("철물", "공구"), "HOME CARE": ("홈케어", "생활용품", "생활 용품"), "LIQUOR,WINE,BEER": ("주류", "와인", "맥주"),
    "MEATS": ("육류", "고기", "정육"), "PERSONAL CARE": ("개인위생", "퍼스널케어", "위생용품"),
    "PET SUPPLIES": ("반려동물용품", "애완용품", "펫용품"), "POULTRY": ("가금류", "닭고기"), "PREPARED FOODS": ("조리식품", "즉석식품", "반찬"),
    "PRODUCE": ("농산물", "청과", "채소", "과일"), "SCHOOL AND OFFICE SUPPLIES": ("학용품", "사무용품", "문구"),
    "SEAFOOD": ("해산물", "수산물", "생선"), "SNACKS": ("과자", "스낵", "간식"),
}
CATEGORY_KO: dict[str, tuple[str, ...]] = {
    "Grocery": ("식료품류", "식료품"), "Fresh": ("신선식품", "신선 식품"), "Household": ("가정용품", "생활용품"),
    "Hardlines": ("하드라인", "잡화"), "Personal Care": ("개인관리", "개인위생"), "Beverages": ("음료류", "음료", "주류"),
}

# a product family's name wins over a fixed word, which wins over a category's name
GLOSSARY: dict[str, str] = {**{ko: en for en, kos in CATEGORY_KO.items() for ko in kos}, **TERMS,
                            **{ko: en for en, kos in PRODUCT_KO.items() for ko in kos}}

_GLOSSARY_RE = re.compile("|".join(re.escape(k) for k in sorted(GLOSSARY, key=len, reverse=True)))  # longest first
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
# "44번 매장", "44호점", "매장 44", "44번 상품", "상품 3": ids first so their words are not translated alone.
STORE_KO_AFTER = re.compile(r"(?<![\d\-./])(?:(\d+)\s*번\s*(?:매장|점포|지점|호점|점)|(\d+)\s?호점|(\d+)(?:매장|점포|지점))")
STORE_KO_BEFORE = re.compile(r"(?:매장|점포|지점)\s*(?:번호\s*)?#?(\d+)(?!\d|\s*번|상품|제품|품목|월|일|년|개|주)")
PRODUCT_KO_AFTER = re.compile(r"(?<![\d\-./])(?:(\d+)\s*번\s*(?:상품|제품|품목)|(\d+)(?:상품|제품|품목))")
PRODUCT_KO_BEFORE = re.compile(r"(?:상품|제품|품목)\s*(?:번호\s*)?#?(\d+)(?!\d|\s*번|매장|점포|지점|호점|월|일|년|개|주)")
_YMD_KO = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월(?:\s*(\d{1,2})\s*일)?")
_MD_KO = re.compile(r"(?<!\d)(\d{1,2})\s*월(?:\s*(\d{1,2})\s*일)?")
_Y_KO = re.compile(r"(\d{4})\s*년")


def first_group(m) -> str:
    return next(g for g in m.groups() if g)


def is_korean(text: str) -> bool:
    return bool(_HANGUL.search(text or ""))


def apply_glossary(text: str) -> str:
    """The question in English terms: fixed ids/dates first, then glossary terms (longest first)."""
    if not text:
        return ""
    out = text
    if is_korean(out):
        out = _YMD_KO.sub(lambda m: f" {m.group(1)}-{int(m.group(2)):02d}"
                          + (f"-{int(m.group(3)):02d} " if m.group(3) else " "), out)
        # "3월" -> "in March" (a bare "May" would read as the verb), "3월 5일" -> "March 5"
        out = _MD_KO.sub(lambda m: m.group(0) if not 1 <= int(m.group(1)) <= 12 else
                         f" {MONTHS_EN[int(m.group(1)) - 1]} {int(m.group(2))} " if m.group(2) else
                         f" in {MONTHS_EN[int(m.group(1)) - 1]} ", out)
        out = _Y_KO.sub(lambda m: f" in {m.group(1)} ", out)  # "in 2016": a year, not a quantity
        for regex, word in ((STORE_KO_AFTER, "store"), (PRODUCT_KO_AFTER, "product"), (STORE_KO_BEFORE, "store"),
                            (PRODUCT_KO_BEFORE, "product")):
            out = regex.sub(lambda m, word=word: f" {word} {first_group(m)} ", out)
        units = {"일": "days", "주": "weeks", "개월": "months", "달": "months"}
        out = re.sub(r"최근\s*(\d+)\s*(일|주|개월|달)", lambda m: f" last {m.group(1)} {units[m.group(2)]} ", out)
        out = re.sub(r"([1-4])\s*분기", r" Q\1 ", out)
        out = _GLOSSARY_RE.sub(lambda m: f" {GLOSSARY[m.group(0)]} ", out)
        # particles left dangling after a translated word ("store 44 의", "sum 는")
        out = re.sub(r"(?<=[A-Za-z0-9)])\s*(?:은|는|이|가|을|를|의|에서|에|으로|로|과|와|도|만|까지|부터|별)(?=\s|$|[?.!,])", " ", out)
    out = re.sub(r"\s+", " ", out).strip()
    return out
