"""GET /api/compare over real runs: parameters, steps and artifacts, differences first."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.ui.conftest import UiStore


def compare(client: TestClient, a: str, b: str) -> dict:
    response = client.get("/api/compare", params={"a": a, "b": b})
    assert response.status_code == 200, response.text
    return response.json()


def test_two_runs_of_one_flow(client: TestClient, ui_store: UiStore) -> None:
    answer = compare(
        client, f"UiShowcaseFlow/{ui_store.showcase}", f"UiShowcaseFlow/{ui_store.wider}"
    )
    assert (answer["a"]["run_id"], answer["b"]["run_id"]) == (ui_store.showcase, ui_store.wider)
    assert answer["parameters"] == [
        {"name": "label", "a": "'baseline'", "b": "'wider'", "same": False},
        {"name": "width", "a": "4", "b": "6", "same": False},
    ]
    steps = answer["steps"]
    assert [s["name"] for s in steps] == ["train", "start", "join", "end"]
    train = steps[0]
    assert (train["a"]["tasks"], train["b"]["tasks"]) == (4, 6)
    assert train["a"]["phase"] == train["b"]["phase"] == "done"
    assert train["a"]["span"] > 0
    assert not any(s["code_changed"] for s in steps)
    assert all(s["in_a"] and s["in_b"] for s in steps)
    artifacts = {(x["step"], x["name"]): x for x in answer["artifacts"]}
    assert not any(s == ("train", "score") for s in artifacts)  # 4 and 6 tasks: not compared
    note = artifacts[("join", "note")]
    assert note["same"] is False
    assert (note["a"]["text"], note["b"]["text"]) == (
        "'best of 4 for baseline'",
        "'best of 6 for wider'",
    )
    matrix = artifacts[("join", "matrix")]
    assert matrix["same"] is True
    assert matrix["a"]["digest"] == matrix["b"]["digest"]
    assert matrix["a"]["type"].endswith("ndarray")
    assert artifacts[("end", "best")]["same"] is False
    same = [x["same"] for x in answer["artifacts"]]
    assert same == sorted(same)  # differences first
    assert False in same and True in same


def test_runs_of_two_flows_match_steps_by_name(client: TestClient, ui_store: UiStore) -> None:
    answer = compare(
        client, f"UiShowcaseFlow/{ui_store.showcase}", f"FixableFlow/{ui_store.failed}"
    )
    steps = {s["name"]: s for s in answer["steps"]}
    assert set(steps) == {"start", "train", "join", "end", "work"}
    assert (steps["train"]["in_a"], steps["train"]["in_b"], steps["train"]["b"]) == (
        True,
        False,
        None,
    )
    assert (steps["work"]["in_a"], steps["work"]["b"]["phase"]) == (False, "failed")
    assert steps["start"]["code_changed"] is True
    assert steps["end"]["b"]["phase"] == "not run"
    assert {p["name"] for p in answer["parameters"]} == {"factor", "label", "width"}
    assert all(p["same"] is False for p in answer["parameters"])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"a": "UiShowcaseFlow"}, 400),
        ({"a": "UiShowcaseFlow/x/y", "b": "UiShowcaseFlow/x"}, 400),
        ({"a": "UiShowcaseFlow/nosuchrun", "b": "UiShowcaseFlow/nosuchrun"}, 404),
    ],
)
def test_bad_runs_are_named(client: TestClient, params: dict, status: int) -> None:
    response = client.get("/api/compare", params=params)
    assert response.status_code == status
    assert response.json()["error"]
