"""``flowkit ui`` served for real (a subprocess on 127.0.0.1, port 0), and the token rules."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from flowkit.store import open_store
from flowkit.ui.app import create_app
from flowkit.ui.auth import cookie_name
from flowkit.ui.common import UiContext
from flowkit.ui.server import HOST_NAMES
from tests.ui.conftest import UiStore

ADDRESS = re.compile(r"^flowkit ui: (http://127\.0\.0\.1:(\d+)/)  \(store: (.+), read-only\)$")


def start_ui(store: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``flowkit ui`` in a subprocess, and the address it printed."""
    env = {**os.environ, "FLOWKIT_UI_TOKEN": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "ui", "--store", str(store), "--port", "0",
         "--no-browser", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    chooser = selectors.DefaultSelector()
    chooser.register(proc.stdout, selectors.EVENT_READ)
    if not chooser.select(timeout=60):
        proc.kill()
        pytest.fail(f"flowkit ui printed nothing in 60 s: {proc.communicate()}")
    line = proc.stdout.readline().rstrip("\n")
    found = ADDRESS.match(line)
    if found is None:
        proc.kill()
        pytest.fail(f"unexpected first line {line!r}: {proc.communicate()}")
    assert found.group(3) == str(store)
    return proc, found.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_flowkit_ui_serves_and_stops_cleanly(ui_store: UiStore, stop: signal.Signals) -> None:
    proc, url = start_ui(ui_store.path)
    try:
        flows = httpx.get(url + "api/flows", timeout=30).json()
        assert [f["name"] for f in flows["flows"]] == ["FixableFlow", "UiShowcaseFlow"]
        page = httpx.get(url + f"UiShowcaseFlow/{ui_store.showcase}", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        tags = httpx.post(
            url + f"api/tags/FixableFlow/{ui_store.failed}", json={"add": ["x"]}, timeout=30
        )  # httpx's default 5 s is short on a loaded machine
        assert tags.status_code == 403
    finally:
        proc.send_signal(stop)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave a server behind, even one that ignores the signal
            proc.communicate(timeout=30)
            raise
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "GET /api/flows" not in out + err  # no access log


def test_a_missing_store_is_an_error_before_listening(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "flowkit", "ui", "--store", str(missing), "--port", "0",
         "--no-browser"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"there is no store at {missing}" in done.stderr
    assert "flowkit ui:" not in done.stdout
    assert not missing.exists()


@pytest.fixture(scope="module")
def guarded(ui_store: UiStore) -> TestClient:
    app = create_app(UiContext(open_store(str(ui_store.path))), token="s3cret-token")
    return TestClient(app, base_url="http://127.0.0.1:8808", follow_redirects=False)


def test_no_token_answers_401(guarded: TestClient) -> None:
    api = guarded.get("/api/flows")
    assert api.status_code == 401
    assert api.json()["error"] == "this flowkit UI requires its token"
    assert "Authorization: Bearer" in api.json()["hint"]
    page = guarded.get("/UiShowcaseFlow")
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "token" in page.text
    wrong = guarded.get("/api/flows", headers={"Authorization": "Bearer s3cret-tokem"})
    assert wrong.status_code == 401
    assert guarded.get("/?token=wrong").status_code == 401


def test_a_bearer_token_is_let_in(guarded: TestClient) -> None:
    answer = guarded.get("/api/flows", headers={"Authorization": "Bearer s3cret-token"})
    assert answer.status_code == 200
    assert len(answer.json()["flows"]) == 2


def test_a_page_opened_with_the_token_gets_a_cookie(guarded: TestClient) -> None:
    opened = guarded.get("/UiShowcaseFlow?status=failed&token=s3cret-token")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/UiShowcaseFlow?status=failed"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name('s3cret-token')}=s3cret-token;")
    assert "HttpOnly" in cookie
    with TestClient(guarded.app, base_url="http://127.0.0.1:8808") as browser:
        browser.cookies.set(cookie_name("s3cret-token"), "s3cret-token")
        assert browser.get("/api/flows").status_code == 200
        assert browser.get("/UiShowcaseFlow").status_code == 200


def test_the_token_cookie_is_found_among_other_servers_cookies(guarded: TestClient) -> None:
    # browsers send this host's cookies of every port: a notebook server's among them
    fresh = TestClient(guarded.app, base_url="http://127.0.0.1:8808")
    jar = f'prefs={{"theme":"dark"}}; session=a b; {cookie_name("s3cret-token")}=s3cret-token; _xsrf=2|ab|cd'
    assert fresh.get("/api/flows", headers={"cookie": jar}).status_code == 200
    wrong = jar.replace("s3cret-token", "s3cret-tokem")
    assert fresh.get("/api/flows", headers={"cookie": wrong}).status_code == 401


def test_two_uis_on_one_host_keep_their_own_token_cookies(guarded: TestClient) -> None:
    # cookies ignore ports: another UI's token cookie comes along and must not be taken
    fresh = TestClient(guarded.app, base_url="http://127.0.0.1:8808")
    other = f"{cookie_name('other-token')}=other-token"
    assert cookie_name("other-token") != cookie_name("s3cret-token")
    assert fresh.get("/api/flows", headers={"cookie": other}).status_code == 401
    both = f"{other}; {cookie_name('s3cret-token')}=s3cret-token"
    assert fresh.get("/api/flows", headers={"cookie": both}).status_code == 200


def test_a_token_link_redirects_only_within_the_ui(guarded: TestClient) -> None:
    fresh = TestClient(guarded.app, follow_redirects=False)  # no cookie yet
    opened = fresh.get("http://127.0.0.1:8808//evil.example/runs?token=s3cret-token")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/evil.example/runs"  # a path here, not another site


def test_without_a_token_only_loopback_host_names_are_served(ui_store: UiStore) -> None:
    # a page of another site whose name now resolves to 127.0.0.1 (DNS rebinding) sends its
    # own name as Host: it must not read a UI that asks no token
    app = create_app(UiContext(open_store(str(ui_store.path))), hosts=HOST_NAMES)
    client = TestClient(app, base_url="http://127.0.0.1:8808")
    for host in ("127.0.0.1:8808", "localhost:8808", "[::1]:8808"):
        assert client.get("/api/flows", headers={"host": host}).status_code == 200
    for host in ("evil.example:8808", "127.0.0.1.evil.example"):
        assert client.get("/api/flows", headers={"host": host}).status_code == 400
        assert client.get("/-/static/app.js", headers={"host": host}).status_code == 400


@pytest.mark.slow
def test_flowkit_ui_on_loopback_refuses_other_host_names(ui_store: UiStore) -> None:
    proc, url = start_ui(ui_store.path)
    try:
        assert httpx.get(url + "api/flows", timeout=30).status_code == 200
        rebound = httpx.get(url + "api/flows", headers={"host": "evil.example"}, timeout=30)
        assert rebound.status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=30)
            raise
