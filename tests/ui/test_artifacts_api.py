"""GET .../artifacts/NAME and .../artifacts/NAME/raw on real runs: the showcase join's
DataFrame, array, PNG and plain value; the snippet; a value too large to load; a value whose
class the UI cannot import; and the 404s."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import flowkit
from flowkit import FlowSpec, Parameter, step
from flowkit.store import Store, open_store
from flowkit.store.records import TaskRecord
from flowkit.ui import preview
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext
from tests.flows.ui import tiny_png
from tests.runtime.test_shapes import Quiet
from tests.ui.conftest import UiStore


@pytest.fixture(scope="module")
def join(store: Store, ui_store: UiStore) -> TaskRecord:
    (task,) = store.records.list_tasks("UiShowcaseFlow", ui_store.showcase, "join")
    return task


def get(client: TestClient, task: TaskRecord, name: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"/api/runs/{task.pathspec}/artifacts/{name}", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_dataframe_previews_as_a_table(client: TestClient, join: TaskRecord) -> None:
    answer = get(client, join, "table")

    ref = join.artifacts["table"]
    assert (answer["type"], answer["size"], answer["digest"]) == (ref.type, ref.size, ref.digest)
    assert answer["name"] == "table" and answer["pathspec"] == f"{join.pathspec}/table"
    flow, run_id = join.flow, join.run_id
    assert answer["snippet"] == f"Flow('{flow}')['{run_id}']['join'].task.data.table"
    table = answer["preview"]
    assert table["kind"] == "table"
    assert table["columns"] == ["item", "score", "label"]
    assert table["dtypes"][:2] == ["int64", "float64"]
    assert table["rows"] == [[i, (i + 1) * 0.25, "baseline"] for i in range(4)]
    assert table["shape"] == [4, 3] and table["truncated"] is False


def test_an_array_previews_with_shape_dtype_and_stats(client: TestClient, join: TaskRecord) -> None:
    array = get(client, join, "matrix")["preview"]

    assert array["kind"] == "array"
    assert (array["shape"], array["dtype"]) == ([3, 4], "float64")
    assert array["stats"] == {"min": 0.0, "max": 11.0, "mean": 5.5}
    assert array["text"].splitlines()[-1] == " [ 8.  9. 10. 11.]]"


def test_png_bytes_preview_as_an_image_served_raw(client: TestClient, join: TaskRecord) -> None:
    image = get(client, join, "chart")["preview"]

    raw = f"/api/runs/{join.pathspec}/artifacts/chart/raw"
    assert image == {"kind": "image", "url": raw, "format": "png", "width": 48, "height": 24}
    answer = client.get(raw)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content == tiny_png(48, 24)


def test_a_plain_value_previews_as_its_repr(client: TestClient, join: TaskRecord) -> None:
    assert get(client, join, "note")["preview"] == {
        "kind": "value",
        "text": "'best of 4 for baseline'",
        "truncated": False,
    }
    answer = client.get(f"/api/runs/{join.pathspec}/artifacts/note/raw")
    assert answer.status_code == 404
    assert answer.json()["error"] == f"artifact 'note' of task {join.pathspec} is not an image"


def test_a_task_of_a_foreach_gets_a_task_snippet(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    train = store.records.list_tasks("UiShowcaseFlow", ui_store.showcase, "train")[0]

    answer = get(client, train, "score")
    assert answer["snippet"] == f"Task('{train.pathspec}').data.score"
    assert answer["preview"]["kind"] == "value"
    again = get(client, train, "score", attempt=0)
    assert again["snippet"] == f"Task('{train.pathspec}', attempt=0).data.score"


def test_unknown_artifacts_and_attempts_answer_404(
    client: TestClient, store: Store, ui_store: UiStore, join: TaskRecord
) -> None:
    answer = client.get(f"/api/runs/{join.pathspec}/artifacts/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"] == f"task {join.pathspec} attempt 0 has no artifact 'nothing'"
    assert "table" in answer.json()["hint"] and "matrix" in answer.json()["hint"]
    assert client.get(f"/api/runs/{join.pathspec}/artifacts/nothing/raw").status_code == 404
    answer = client.get(f"/api/runs/{join.pathspec}/artifacts/table", params={"attempt": 2})
    assert answer.status_code == 404 and answer.json()["hint"] == "its attempts are: 0"
    (work,) = store.records.list_tasks("FixableFlow", ui_store.failed, "work")
    answer = client.get(f"/api/runs/{work.pathspec}/artifacts/value")  # a failed attempt's
    assert answer.status_code == 404 and answer.json()["hint"] == "its artifacts are: none"


def test_a_value_over_the_limit_is_not_loaded(
    client: TestClient, store: Store, join: TaskRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preview, "LOAD_LIMIT", 100)

    def no_load(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a value over the limit was loaded")

    monkeypatch.setattr(store.values, "load_artifact", no_load)  # blob or inline

    answer = get(client, join, "table")
    assert answer["preview"] == {"kind": "too_large", "limit": 100}
    assert answer["size"] > 100 and answer["snippet"].endswith(".task.data.table")
    assert get(client, join, "note")["preview"]["kind"] == "error"  # small: it was loaded
    answer = client.get(f"/api/runs/{join.pathspec}/artifacts/chart/raw")
    assert answer.status_code == 404 and "more than the UI loads (100)" in answer.json()["error"]
    assert answer.json()["hint"].endswith(".task.data.chart")


class GhostFlow(FlowSpec):
    """Stores an object of a class from a module only its task can import."""

    where = Parameter("where", default="")

    @step
    def start(self):
        sys.path.insert(0, self.where)
        import ghost_module_for_ui  # type: ignore[import-not-found]

        self.ghost = ghost_module_for_ui.Ghost()
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_value_the_ui_cannot_import_previews_as_an_error(tmp_path: Path) -> None:
    (tmp_path / "ghost_module_for_ui.py").write_text("class Ghost:\n    pass\n")
    store = open_store(str(tmp_path / "store"))
    run = flowkit.run(GhostFlow, store=store, progress=Quiet(), where=str(tmp_path))
    assert "ghost_module_for_ui" not in sys.modules
    (start,) = store.records.list_tasks("GhostFlow", run.id, "start")

    with TestClient(create_app(UiContext(store))) as client:
        answer = get(client, start, "ghost")
        task = client.get(f"/api/runs/{start.pathspec}").json()
        raw = client.get(f"/api/runs/{start.pathspec}/artifacts/ghost/raw")

    assert raw.status_code == 404
    assert "cannot be loaded here" in raw.json()["error"]
    assert "module 'ghost_module_for_ui'" in raw.json()["error"]

    assert answer["type"] == "ghost_module_for_ui.Ghost"
    assert answer["preview"]["kind"] == "error"
    assert "module 'ghost_module_for_ui'" in answer["preview"]["message"]
    assert [a["name"] for a in task["artifacts"]] == ["ghost", "where"]  # listed, not loaded
