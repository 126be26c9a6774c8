"""Streamlit glue shared by the pages: sign-in, cached data loading, pickers, error display.

Only UI code lives here; every number comes from ``engine`` and every permission from ``engine.access``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from engine.access.guard import refusal
from engine.access.roles import User, local_user, signed_in_user
from engine.data.dataset import Dataset, read_dataset
from engine.data.problems import ValidationReport
from engine.data.storage import data_dir, recover_interrupted_replace, state_stamp

APP_TITLE = "K-Mart demand & ordering"


@st.cache_resource(show_spinner="Loading and checking the data…", max_entries=3)
def _load(folder: str, stamp: str) -> tuple[Dataset | None, ValidationReport]:
    return read_dataset(folder)


def auth_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section: sign-in is on."""
    try:
        return bool(st.secrets.get("auth"))
    except FileNotFoundError:  # no secrets file at all (StreamlitSecretNotFoundError)
        return False


def current_user() -> User:
    """Who is using the app: the signed-in user with their role, or the local-mode user when sign-in is off.

    With sign-in on, someone not signed in sees the sign-in button and the page stops; a signed-in
    account that the roles file does not list (or a broken roles file) gets one sentence and a stop.
    """
    if not auth_configured():
        return local_user()
    if not st.user.is_logged_in:
        st.info("Sign in to use the K-Mart dashboard.", icon="🔒")
        providers = [k for k, v in st.secrets["auth"].items() if hasattr(v, "items")] if not st.secrets["auth"].get("client_id") else []
        for provider in providers or [None]:
            st.button(f"Sign in with {provider}" if provider else "Sign in", key=f"login-{provider}", type="primary",
                      on_click=st.login, args=(provider,) if provider else ())
        st.stop()
    try:
        user = signed_in_user(st.user.to_dict())
    except ValueError as exc:  # a broken roles file: one sentence naming it
        st.error(str(exc))
        st.stop()
    if user.role is None:
        st.error(refusal(user, "read"))
        st.button("Sign out", key="logout", on_click=st.logout)
        st.stop()
    return user


def show_user(user: User) -> None:
    """The sidebar's line about who is signed in (with Sign out), or the local-mode banner."""
    if user.local:
        st.sidebar.info("**Single-user local mode**: no sign-in, so whoever opens this address may change everything; "
                        f"changes are signed {user.email}. To turn sign-in on, add an `[auth]` section to "
                        "`.streamlit/secrets.toml` and a `roles.toml` (see docs/auth.md).", icon="🔓")
        return
    stores = "" if user.stores is None else f" · store{'s' if len(user.stores) > 1 else ''} {', '.join(map(str, user.stores))}"
    st.sidebar.caption(f"Signed in as **{user.name or user.email}** ({user.email}) · {user.role}{stores}")
    st.sidebar.button("Sign out", key="logout", on_click=st.logout)


def load_current() -> tuple[Dataset | None, ValidationReport]:
    show_user(current_user())  # every page loads the data through here: nobody reaches it without a role
    folder = data_dir()
    recover_interrupted_replace(folder)
    return _load(str(folder), state_stamp(folder, include_state=False))


def show_errors(report: ValidationReport) -> None:
    st.error(f"The data in {report.folder} cannot be used yet: {len(report.errors)} problem(s) to fix.")
    for sentence in report.error_sentences():
        st.markdown(f"- {sentence}")


def require_dataset() -> Dataset:
    """The current dataset, or an explanation and a stop when there is none."""
    ds, report = load_current()
    if ds is None:
        show_errors(report)
        st.info("Open the Home page to upload corrected files, or run `make run` to create the demo data.")
        st.stop()
    return ds


def store_label(ds: Dataset, store_id: int) -> str:
    s = ds.store(store_id)
    return f"{store_id} · {s['City']}, {s['State']}" if s.get("City") else str(store_id)


def product_label(ds: Dataset, product_id: int) -> str:
    p = ds.products.filter(ds.products["Product_ID"] == product_id)
    return f"{product_id} · {p['SubCategory'][0]}" if p.height else str(product_id)


def pick_store(ds: Dataset, key: str = "store", default: int = 44, where=st.sidebar) -> int:
    ids = ds.store_ids
    index = ids.index(default) if default in ids else 0
    return where.selectbox("Store", ids, index=index, key=key, format_func=lambda i: store_label(ds, i))


def pick_product(ds: Dataset, key: str = "product", default: int = 3, where=st.sidebar) -> int:
    ids = ds.product_ids
    index = ids.index(default) if default in ids else 0
    return where.selectbox("Product", ids, index=index, key=key, format_func=lambda i: product_label(ds, i))


def pick_products(ds: Dataset, key: str = "products", default: tuple[int, ...] = (3, 12, 42), where=st.sidebar) -> list[int]:
    ids = ds.product_ids
    return where.multiselect("Products", ids, default=[p for p in default if p in ids], key=key, format_func=lambda i: product_label(ds, i))


_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def compact(value: float, prefix: str = "") -> str:
    """A number short enough for a KPI tile: 515.4 M, $1.53 B, 434.6 K; below 1,000 as it is.

    Three or four significant digits (two decimals under 10, one above); the exact figure goes
    in the tile's tooltip.
    """
    sign = "-" if value < 0 else ""
    size = abs(float(value))
    for i, (scale, letter) in enumerate(_SCALES):
        if size >= scale * 0.99995:  # 999,999 rounds to 1.00 M, not 1000.0 K
            shown = size / scale
            text = f"{shown:.2f}" if round(shown, 2) < 10 else f"{shown:.1f}"
            if float(text) >= 1000 and i > 0:  # 999.96 B is 1.00 T
                return f"{sign}{prefix}{size / _SCALES[i - 1][0]:.2f} {_SCALES[i - 1][1]}"
            return f"{sign}{prefix}{text} {letter}"
    return f"{sign}{prefix}{size:,.0f}"
