"""Metaflow's own tutorial flows (00-04, from the installed ``metaflow`` package, the reference
version) run under flowkit with only their import lines changed, each from its own folder, as a
Metaflow user would run them: ``python playlist.py run``.

The tutorials share nothing but the per-user store: 03 reads what 02 stored through the client.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: ``from metaflow import ...`` and ``import metaflow``: the only lines a user changes.
_IMPORT = re.compile(r"^(\s*)(from|import) metaflow\b", re.MULTILINE)


def _tutorials() -> Path:
    spec = importlib.util.find_spec("metaflow")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the metaflow package (a test dependency: its tutorials) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "tutorials"


@pytest.fixture(scope="module")
def user_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's home with no flowkit store yet: tutorials find the per-user default store."""
    return tmp_path_factory.mktemp("home")


def _copy(name: str, dest: Path) -> Path:
    folder = dest / name
    shutil.copytree(_tutorials() / name, folder)
    for path in folder.glob("*.py"):
        text = path.read_text()
        changed = _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} flowkit", text)
        assert changed != text, f"{path.name} imports nothing from metaflow"
        path.write_text(changed)
    return folder


def _run(folder: Path, script: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLOWKIT_STORE", "METAFLOW_", "XDG_DATA_HOME"))
    }
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), FLOWKIT_USER="tutorial")
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _movies(folder: Path) -> list[dict[str, str]]:
    with (folder / "movies.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_00_hello_world(tmp_path: Path, user_home: Path) -> None:
    done = _run(_copy("00-helloworld", tmp_path), "helloworld.py", user_home, "run")
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    order = [out.index(s) for s in ("HelloFlow is starting.", "Metaflow says: Hi!", "all done")]
    assert order == sorted(order)


def test_01_playlist_filters_by_genre(tmp_path: Path, user_home: Path) -> None:
    folder = _copy("01-playlist", tmp_path)
    done = _run(folder, "playlist.py", user_home, "run", "--genre", "Comedy")
    assert done.returncode == 0, done.stderr
    picks = re.findall(r"Pick \d+: '(.*)'", done.stdout + done.stderr)
    comedies = {m["movie_title"] for m in _movies(folder) if "comedy" in m["genres"].lower()}
    assert len(picks) == 5 and set(picks) <= comedies
    assert "Playlist for movies in genre 'Comedy'" in done.stdout + done.stderr


def _quartiles(movies: list[dict[str, str]], genre: str) -> list[int]:
    """What tutorial 02 computes for one genre, computed here independently."""
    gross = sorted(int(m["gross"]) for m in movies if genre in m["genres"])
    return [gross[0 if len(gross) < 2 else round(len(gross) * cut)] for cut in (0.25, 0.5, 0.75)]


def test_02_then_03_read_each_others_runs_from_their_own_folders(
    tmp_path: Path, user_home: Path
) -> None:
    stats = _copy("02-statistics", tmp_path)
    done = _run(stats, "stats.py", user_home, "run")
    assert done.returncode == 0, done.stderr

    from flowkit.client.objects import Flow

    store = user_home / ".local" / "share" / "flowkit" / "store"
    # the tutorials ran as the user "tutorial": this process (another user) looks past its
    # own namespace, as a Metaflow user would with namespace(None)
    run = Flow("MovieStatsFlow", store=str(store), _namespace_check=False).latest_successful_run
    assert run is not None
    movies = _movies(stats)
    genres = {g for m in movies for g in m["genres"].split("|")}
    genre_stats = run.data.genre_stats
    assert set(genre_stats) == {g.lower() for g in genres}
    for genre in genres:
        assert genre_stats[genre.lower()]["quartiles"] == _quartiles(movies, genre)

    redux = _copy("03-playlist-redux", tmp_path)
    done = _run(redux, "playlist.py", user_home, "run", "--genre", "Drama")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert f"Using analysis from 'Run('MovieStatsFlow/{run.id}')'" in out or run.id in out
    assert re.search(r"Using metadata provider: local@\S+", out)
    picks = re.findall(r"Pick \d+: '(.*)'", out)
    drama = genre_stats["drama"]
    cut = drama["quartiles"][-1]
    frame = drama["dataframe"]
    top = {t for t, g in zip(frame["movie_title"], frame["gross"], strict=True) if g >= cut}
    assert 1 <= len(picks) <= 5 and set(picks) <= top


def test_04_conda_stops_before_running_and_names_what_is_missing(
    tmp_path: Path, user_home: Path
) -> None:
    if importlib.util.find_spec("editdistance") is not None:
        pytest.fail("this test needs 'editdistance' to be missing from the test environment")
    folder = _copy("04-playlist-plus", tmp_path)
    done = _run(folder, "playlist.py", user_home, "run")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "editdistance" in out and "pip install" in out and "Traceback" not in out
    assert "Metaflow says" not in out and "Using analysis" not in out  # nothing ran
