"""A foreach over a value it cannot fan out over fails with one message naming the step,
and the file and line of its ``self.next``; nothing fans out."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.flows.foreach_errors import ForeachErrorsFlow
from tests.runtime.test_shapes import Quiet

FILE = Path(__file__).resolve().parent.parent / "flows" / "foreach_errors.py"
NEXT_LINE = next(
    n for n, text in enumerate(FILE.read_text().splitlines(), 1) if 'foreach="items"' in text
)
WHERE = f"{FILE}:{NEXT_LINE}: step 'start': "


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("empty", "fans out over 'items', which is empty"),
        ("number", "foreach='items' holds a value of type int, which cannot be iterated"),
        ("five", "foreach='items' has more than 3 items, the --max-num-splits limit"),
    ],
)
def test_a_bad_foreach_value_names_the_step_file_and_line(
    what: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            ForeachErrorsFlow, store=str(tmp_path), progress=Quiet(), what=what, max_num_splits=3
        )
    text = info.value.render()
    assert WHERE + message in text
    assert "<unknown source>" not in text
    # a number is refused at self.next, in the user's frame; the others after the step
    # returned, where no frame of the user's is left: then no empty traceback header
    assert ("Traceback" in text) == (what == "number")
    assert text.count(message) == (2 if what == "number" else 1)
    assert [s.id for s in info.value.run] == ["start"]


def test_a_cloned_split_over_a_lower_max_num_splits_is_refused_with_its_line(
    tmp_path: Path,
) -> None:
    flowkit.run(ForeachErrorsFlow, store=str(tmp_path), progress=Quiet())
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.resume(
            ForeachErrorsFlow, "each", store=str(tmp_path), progress=Quiet(), max_num_splits=3
        )
    assert WHERE + "fans out into 5 tasks, more than --max-num-splits 3" in info.value.render()
    assert [s.id for s in info.value.run] == ["start"]
