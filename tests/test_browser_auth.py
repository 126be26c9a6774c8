"""Browser: sign in through a real OpenID Connect provider (oidc-provider-mock on 127.0.0.1) as a buyer and as an executive.

The provider is the `oidc-provider-mock` server, run as its own process; the app is `streamlit run`
with an `[auth]` section pointing at it (through STREAMLIT_SECRETS_FILES, so the project's own
.streamlit/ is not touched) and a roles file (KMART_ROLES). The buyer of store 44 signs in on the
provider's page, confirms store 44's order (the ledger row carries their e-mail), sees no Confirm
for store 45 and no upload; the executive sees the KPIs and neither upload nor Confirm.
"""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
from pathlib import Path

import pytest

from engine.access.guard import refusal
from engine.access.roles import User
from engine.ordering.ledger import OrderLedger, default_ledger_path
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle
from tests.servers import free_port, local_server

pytestmark = pytest.mark.browser
MODEL = "weekday_mean4"
BUYER = {"sub": "ana@kmart.example", "email": "ana@kmart.example", "name": "Ana Buyer"}
EXECUTIVE = {"sub": "eve@kmart.example", "email": "eve@kmart.example", "name": "Eve Executive"}
ROLES = """
[users."ana@kmart.example"]
role = "buyer"
stores = [44]

[users."eve@kmart.example"]
role = "executive"
"""


@contextlib.contextmanager
def oidc_provider(folder: Path, users: list[dict], timeout: float = 30.0):
    """`python -m oidc_provider_mock` on 127.0.0.1:<free port> with these users; yields its base URL."""
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in users:
        args += ["--user-claims", json.dumps(user)]
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return json.load(urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2))["issuer"] == url

    with local_server(args, ready, folder / f"oidc-{port}.log", "the OIDC provider", timeout, poll=0.2):
        yield url


def _sign_in(page, url: str, email: str) -> None:
    """What a user does: open the app, press Sign in, pick the account on the provider's page, land back signed in."""
    page.goto(url)
    wait_until_idle(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.get_by_role("button", name=email).click()  # the provider's "Authenticate predefined users" form
    page.wait_for_url(f"{url}/**")
    wait_until_idle(page, timeout=300_000)
    page.get_by_text(f"({email})").first.wait_for()  # the sidebar's "Signed in as ..." line


def _open_orders(page, url: str) -> None:
    page.goto(f"{url}/Orders?model={MODEL}")
    wait_until_idle(page, timeout=300_000)
    page.get_by_role("heading", name="Orders").first.wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()


def test_buyer_and_executive_sign_in_and_see_only_what_they_may_do(fresh_data, tmp_path):
    roles = tmp_path / "roles.toml"
    roles.write_text(ROLES)
    port = free_port()
    with oidc_provider(tmp_path, [BUYER, EXECUTIVE]) as provider:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "browser-test-cookie-secret-0123456789abcdef"\n'
            'client_id = "kmart-dashboard"\n'
            'client_secret = "browser-test-client-secret"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
        env = {"STREAMLIT_SECRETS_FILES": str(secrets), "KMART_ROLES": str(roles)}
        ledger = OrderLedger(default_ledger_path(fresh_data))
        with streamlit_app(fresh_data, port=port, env=env) as url:
            with chromium_page(width=1500, height=2000) as page:
                page.goto(url)
                wait_until_idle(page)
                page.get_by_text("Sign in to use the K-Mart dashboard.").wait_for()
                assert page.locator('[data-testid="stMetric"]').count() == 0  # nothing before sign-in

                _sign_in(page, url, BUYER["email"])
                page.get_by_text("Units sold").first.wait_for()
                assert page.get_by_text("Upload new data").count() == 0
                page.get_by_text("Uploading new data is for the data team; ana@kmart.example is signed in as buyer.").wait_for()

                _open_orders(page, url)
                page.get_by_role("button", name="Confirm order").click()
                done = page.get_by_text("Confirmed version 1 for store 44")
                done.wait_for()
                screenshot(page, "auth_buyer_confirmed")
                rows = ledger.confirmations(44)
                assert rows.height == 1 and rows["confirmed_by"].to_list() == [BUYER["email"]]
                assert set(ledger.history(44)["confirmed_by"].to_list()) == {BUYER["email"]}

                page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Store").click()
                page.keyboard.type("45 ·")  # 54 stores: the list is long, typing filters it
                page.get_by_role("option", name="45 ·").first.click()
                wait_until_idle(page, timeout=300_000)
                page.get_by_text("Order sheet · store 45").wait_for()
                page.get_by_text(refusal(User(BUYER["email"], "buyer", stores=(44,)), "confirm", 45)).wait_for()
                assert page.get_by_role("button", name="Confirm order").count() == 0
                screenshot(page, "auth_buyer_other_store")

            with chromium_page(width=1500, height=2000) as page:  # a new browser: no cookie, a new sign-in
                _sign_in(page, url, EXECUTIVE["email"])
                assert page.locator('[data-testid="stMetric"]').filter(has_text="Units sold").count() == 1
                assert page.get_by_text("Upload new data").count() == 0
                screenshot(page, "auth_executive_home")
                _open_orders(page, url)
                page.get_by_text("eve@kmart.example (an executive) may not confirm orders for store 44").wait_for()
                assert page.get_by_role("button", name="Confirm order").count() == 0
        assert ledger.confirmations()["confirmed_by"].to_list() == [BUYER["email"]]  # the executive wrote nothing
