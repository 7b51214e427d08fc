"""GET /api/flows, /api/runs, /api/deadletters and POST /api/tags over real runs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flowkit.store import Store, open_store
from flowkit.store.cached import cached
from flowkit.store.local import LocalBackend
from flowkit.ui import run_list
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext
from tests.ui.conftest import UiStore

_JSON = {"content-type": "application/json"}


def client_for(path: Path, *, writable: bool = False) -> TestClient:
    return TestClient(create_app(UiContext(cached(open_store(str(path))), writable=writable)))


@pytest.fixture(scope="module")
def client(ui_store: UiStore) -> TestClient:
    return client_for(ui_store.path)


def ids(answer: dict) -> list[str]:
    return [r["run_id"] for r in answer["runs"]]


def test_flows_count_runs_and_name_the_latest(client: TestClient, ui_store: UiStore) -> None:
    answer = client.get("/api/flows").json()
    assert [(f["name"], f["runs"]) for f in answer["flows"]] == [
        ("FixableFlow", 2),
        ("UiShowcaseFlow", 2),
    ]
    latest = {f["name"]: f["latest"] for f in answer["flows"]}
    assert latest["UiShowcaseFlow"]["run_id"] == ui_store.wider
    assert latest["UiShowcaseFlow"]["parameters"] == {"label": "'wider'", "width": "6"}
    assert latest["FixableFlow"]["run_id"] == ui_store.resumed
    assert latest["FixableFlow"]["origin_run_id"] == ui_store.failed
    assert latest["FixableFlow"]["url"] == f"/FixableFlow/{ui_store.resumed}"


def test_flows_name_the_store_the_top_bar_shows(client: TestClient, ui_store: UiStore) -> None:
    assert client.get("/api/flows").json()["store"] == str(ui_store.path)


def test_runs_newest_first_with_counts(client: TestClient, ui_store: UiStore) -> None:
    answer = client.get("/api/runs").json()
    assert ids(answer) == [ui_store.resumed, ui_store.failed, ui_store.wider, ui_store.showcase]
    assert answer["total"] == 4
    assert answer["statuses"] == {"failed": 1, "succeeded": 3}
    assert answer["flows"] == ["FixableFlow", "UiShowcaseFlow"]
    assert answer["next"] is None
    run = answer["runs"][1]
    assert run["status"] == "failed"
    assert run["duration"] == pytest.approx(run["finished_at"] - run["created_at"])
    assert any(t.startswith("user:") for t in run["system_tags"])


def test_a_status_filter_leaves_total_and_statuses_alone(
    client: TestClient, ui_store: UiStore
) -> None:
    answer = client.get("/api/runs", params={"status": "failed"}).json()
    assert ids(answer) == [ui_store.failed]
    assert answer["total"] == 4
    assert answer["statuses"] == {"failed": 1, "succeeded": 3}
    flow = client.get("/api/runs", params=[("flow", "UiShowcaseFlow"), ("status", "failed")]).json()
    assert (ids(flow), flow["total"], flow["statuses"]) == ([], 2, {"succeeded": 2})


def test_pages_follow_the_cursor(client: TestClient, ui_store: UiStore) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3"} if cursor is None else {"limit": "3", "cursor": cursor}
        answer = client.get("/api/runs", params=params).json()
        seen += ids(answer)
        pages += 1
        cursor = answer["next"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [ui_store.resumed, ui_store.failed, ui_store.wider, ui_store.showcase]


def test_since_until_and_tags_filter(client: TestClient, ui_store: UiStore) -> None:
    runs = {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}
    wider_at = runs[ui_store.wider]["created_at"]
    since = client.get("/api/runs", params={"since": str(wider_at)}).json()
    assert ids(since) == [ui_store.resumed, ui_store.failed, ui_store.wider]
    until = client.get("/api/runs", params={"until": str(wider_at)}).json()
    assert ids(until) == [ui_store.showcase]
    today = time.strftime("%Y-%m-%d", time.gmtime(wider_at))
    assert client.get("/api/runs", params={"until": today}).json()["total"] == 4
    assert client.get("/api/runs", params={"since": "2001-01-01T10:30"}).json()["total"] == 4
    assert client.get("/api/runs", params={"until": "2001-01-01"}).json()["total"] == 0
    user_tag = next(t for t in runs[ui_store.failed]["system_tags"] if t.startswith("user:"))
    tagged = client.get("/api/runs", params=[("tag", user_tag), ("flow", "FixableFlow")]).json()
    assert ids(tagged) == [ui_store.resumed, ui_store.failed]
    assert client.get("/api/runs", params={"tag": "nobody-has-it"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"since": "yesterday"}, "since='yesterday'"),
        ({"since": "nan"}, "since='nan'"),  # float() takes it: every run would be left out
        ({"until": "inf"}, "until='inf'"),
        ({"limit": "0"}, "limit=0"),
        ({"limit": "501"}, "limit=501"),
        ({"limit": "x"}, "limit='x'"),
        ({"cursor": "nope"}, "cursor='nope'"),
    ],
)
def test_bad_parameters_answer_400(client: TestClient, params: dict, named: str) -> None:
    response = client.get("/api/runs", params=params)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_dead_letters_newest_first(client: TestClient, ui_store: UiStore) -> None:
    letters = client.get("/api/deadletters").json()["letters"]
    assert [(x["flow"], x["run_id"], x["step"]) for x in letters] == [
        ("FixableFlow", ui_store.failed, "work")
    ]
    letter = letters[0]
    assert letter["attempt"] == 1
    assert letter["failure"] == "error"
    assert letter["exception"]["type"] == "RuntimeError"
    assert "the bug is still there" in letter["exception"]["message"]
    assert letter["run_url"] == f"/FixableFlow/{ui_store.failed}"


def test_tags_are_read_only_by_default(client: TestClient, ui_store: UiStore) -> None:
    response = client.post(f"/api/tags/FixableFlow/{ui_store.failed}", json={"add": ["x"]})
    assert response.status_code == 403
    assert "--allow-writes" in response.json()["hint"]


def test_tags_change_with_allow_writes(ui_store: UiStore, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(ui_store.path, copy)
    client = client_for(copy, writable=True)
    url = f"/api/tags/FixableFlow/{ui_store.failed}"
    assert client.get("/api/runs", params={"tag": "triaged"}).json()["total"] == 0
    added = client.post(url, json={"add": ["triaged", "bug"]})
    assert added.status_code == 200
    assert added.json()["tags"] == ["bug", "triaged"]
    tagged = client.get("/api/runs", params={"tag": "triaged"}).json()
    assert ids(tagged) == [ui_store.failed]
    assert tagged["runs"][0]["tags"] == ["bug", "triaged"]
    removed = client.post(url, json={"remove": ["bug"]}).json()
    assert removed["tags"] == ["triaged"]
    assert client_for(copy).get("/api/runs", params={"tag": "bug"}).json()["total"] == 0
    system = next(t for t in removed["system_tags"] if t.startswith("user:"))
    refused = client.post(url, json={"remove": [system]})
    assert refused.status_code == 400
    assert "system tag" in refused.json()["error"]
    assert client.post(url, json={"add": "triaged"}).status_code == 400
    assert client.post(url, content=b"not json", headers=_JSON).status_code == 400
    assert client.post("/api/tags/FixableFlow/nosuchrun", json={"add": ["a"]}).status_code == 404


class CountingBackend(LocalBackend):
    """A local backend that counts its reads of run records."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.run_reads = 0

    def get(self, key: str) -> bytes:
        self.run_reads += key.endswith(("/run.json", "/end.json"))
        return super().get(key)


def test_a_second_listing_reads_no_finished_run_again(ui_store: UiStore) -> None:
    backend = CountingBackend(ui_store.path)
    client = TestClient(create_app(UiContext(cached(Store(backend)))))
    assert client.get("/api/runs").json()["total"] == 4
    assert backend.run_reads == 8  # each run's start and end record, once
    client.get("/api/runs")
    client.get("/api/flows")
    assert backend.run_reads == 8


def test_a_running_run_is_seen_ending() -> None:
    store = open_store("memory://ui-runs-running")
    run = store.records.create_run("LiveFlow", parameters={"n": 1}, tags=["mine"])
    store.leases.renew("LiveFlow", run.run_id, interval=60)
    client = TestClient(create_app(UiContext(store)))
    first = client.get("/api/runs").json()["runs"][0]
    assert (first["status"], first["finished_at"]) == ("running", None)
    assert first["tags"] == ["mine"]
    time.sleep(0.05)
    assert client.get("/api/runs").json()["runs"][0]["duration"] > first["duration"]
    store.records.end_run("LiveFlow", run.run_id, "succeeded")
    ended = client.get("/api/runs").json()
    assert ended["runs"][0]["status"] == "succeeded"
    assert ended["statuses"] == {"succeeded": 1}


def test_tags_changed_elsewhere_show_once_the_cached_ones_are_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store("memory://ui-runs-tags")
    run = store.records.create_run("TagFlow")
    store.records.end_run("TagFlow", run.run_id, "succeeded")
    client = TestClient(create_app(UiContext(store)))
    # an hour, not the 3 s a loaded machine can take between two requests
    monkeypatch.setattr(run_list, "TAG_SECONDS", 3600.0)
    assert client.get("/api/runs").json()["runs"][0]["tags"] == []
    store.tags.change(run, added=["late"])  # as flowkit tag in another process would
    assert client.get("/api/runs").json()["runs"][0]["tags"] == []  # within TAG_SECONDS
    monkeypatch.setattr(run_list, "TAG_SECONDS", 0.0)
    assert client.get("/api/runs").json()["runs"][0]["tags"] == ["late"]
    assert client.get("/api/runs", params={"tag": "late"}).json()["total"] == 1


def test_a_tag_change_must_be_sent_as_json(ui_store: UiStore, tmp_path: Path) -> None:
    # a page on another site can POST text/plain or a form here without asking (CSRF)
    copy = tmp_path / "store"
    shutil.copytree(ui_store.path, copy)
    client = client_for(copy, writable=True)
    url = f"/api/tags/FixableFlow/{ui_store.failed}"
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        sent = client.post(url, content=b'{"add": ["csrf"]}', headers={"content-type": kind})
        assert sent.status_code == 415
        assert "application/json" in sent.json()["error"]
    assert client.get("/api/runs", params={"tag": "csrf"}).json()["total"] == 0
    deep = client.post(url, content=b"[" * 100_000, headers={"content-type": "application/json"})
    assert deep.status_code == 400


def test_a_deeply_nested_cursor_is_a_400(client: TestClient) -> None:
    response = client.get("/api/runs", params={"cursor": "[" * 5_000})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]
