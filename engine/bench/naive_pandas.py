"""The data pipeline written the way a notebook does it in pandas: the benchmark's reference.

Same steps and same results as the engine (``tests/test_bench_data.py`` compares them):
read the five CSVs, check the values, then loop over every (store, product) series to build
its daily feature frame. Not used by the app.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.calendar import holiday_table


def load_and_validate(folder: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    folder = Path(folder)
    t = {n: pd.read_csv(folder / f"{n}.csv", dtype=str) for n in ("sales", "products", "stores", "orders", "oil_price")}
    errors: list[str] = []
    for name, frame in t.items():
        frame.columns = [c.strip() for c in frame.columns]
        for col in frame.columns:
            frame[col] = frame[col].str.strip()
        if "Date" in frame:
            parsed = pd.to_datetime(frame["Date"], format="%Y-%m-%d", errors="coerce")
            errors += [f"{name}.csv row {i + 2} Date" for i in np.flatnonzero(parsed.isna())]
            frame["Date"] = parsed
        for col in ("Qty", "CustomerCount", "Price", "WTI_Price", "Store_ID", "Product_ID", "LeadTime"):
            if col in frame:
                num = pd.to_numeric(frame[col], errors="coerce")
                bad = num.isna() & frame[col].notna() | (num < 0)
                errors += [f"{name}.csv row {i + 2} {col}" for i in np.flatnonzero(bad)]
                frame[col] = num
    s = t["sales"]
    dup = s.duplicated(["Date", "Store_ID", "Product_ID"])
    errors += [f"sales.csv row {i + 2} duplicate" for i in np.flatnonzero(dup)]
    unknown = ~s["Product_ID"].isin(t["products"]["Product_ID"])
    errors += [f"sales.csv row {i + 2} Product_ID" for i in np.flatnonzero(unknown)]
    return t, errors


def _expanding_band(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        if np.isnan(values[i]):
            continue
        seen = values[: i + 1][~np.isnan(values[: i + 1])]
        lo, hi = np.quantile(seen, [1 / 3, 2 / 3])
        out[i] = 0 if values[i] < lo else (2 if values[i] > hi else 1)
    return out


def build_all_features(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    sales, products, stores, orders, oil = t["sales"], t["products"], t["stores"], t["orders"], t["oil_price"]
    days = pd.date_range(sales["Date"].min(), sales["Date"].max(), freq="D")
    oil_daily = oil.set_index("Date")["WTI_Price"].reindex(pd.date_range(min(days[0], oil["Date"].min()), max(days[-1], oil["Date"].max()))).ffill().reindex(days)
    holidays = set(pd.to_datetime(holiday_table(days[0].date(), days[-1].date())["Date"].to_list()))
    oil_band = _expanding_band(oil_daily.to_numpy())  # once, shared by every series
    out = []
    for (store, product), g in sales.groupby(["Store_ID", "Product_ID"]):
        f = g.set_index("Date")[["Qty"]].reindex(days).fillna(0.0)
        f["Store_ID"], f["Product_ID"] = store, product
        lead = int(products.loc[products["Product_ID"] == product, "LeadTime"].iloc[0])
        mine = orders[orders["Store_ID"] == store].set_index("Date")["CustomerCount"].reindex(days).fillna(0.0)
        f["customers"] = mine
        row = stores[stores["Store_ID"] == store]
        if len(row):
            city, state = row["City"].iloc[0], row["State"].iloc[0]
            same_city = stores[(stores["City"] == city) & (stores["State"] == state) & (stores["Store_ID"] != store)]["Store_ID"]
            same_state = stores[(stores["State"] == state) & (stores["Store_ID"] != store)]["Store_ID"]
            f["city_customers"] = orders[orders["Store_ID"].isin(same_city)].groupby("Date")["CustomerCount"].sum().reindex(days).fillna(0.0)
            f["state_customers"] = orders[orders["Store_ID"].isin(same_state)].groupby("Date")["CustomerCount"].sum().reindex(days).fillna(0.0)
        else:
            f["city_customers"] = f["state_customers"] = 0.0
        f["oil"] = oil_daily.values
        f["oil_change_7d"] = f["oil"] - f["oil"].shift(7)
        f["oil_band"] = oil_band
        f["weekday"] = f.index.weekday
        f["dow_mean_qty"] = f.groupby("weekday")["Qty"].transform(lambda x: x.expanding().mean())
        f["ma7"] = f["Qty"].rolling(7, min_periods=1).mean()
        f["diff_1"] = f["Qty"].diff(1)
        f["diff_7"] = f["Qty"].diff(7)
        f["is_holiday"] = [d in holidays for d in f.index]
        f["is_closed"] = np.array([(d.month, d.day) == (12, 25) for d in f.index]) | (f["customers"] <= 0).to_numpy()
        f["is_payday"] = [(d.day == 15) or d.is_month_end for d in f.index]
        f["target"] = f["Qty"].shift(-lead)
        out.append(f.reset_index(names="Date"))
    return pd.concat(out, ignore_index=True)
