"""Progress where there is no terminal: plain lines on stderr (issue: a piped run was silent)."""

from __future__ import annotations

import io

from edgealloc._progress import LineProgress
from edgealloc.learn._runtime import progress_bar


def test_lines_at_most_every_interval_and_at_the_end() -> None:
    now = [0.0]
    stream = io.StringIO()
    with LineProgress(
        "job", 10, 0, stream=stream, interval=5.0, clock=lambda: now[0], unit="steps"
    ) as prog:
        for _ in range(10):
            now[0] += 1.0
            prog.advance(n=1, status="cycle 1/2")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "job: 0/10 steps (0%), 0 s"
    assert lines[1] == "job: 5/10 steps (50%), 5 s, cycle 1/2"
    assert lines[-1] == "job: 10/10 steps (100%), 10 s, cycle 1/2"
    assert len(lines) == 3


def test_training_progress_is_lines_when_stderr_is_not_a_terminal(capsys) -> None:
    with progress_bar(True, 4, "training (optimal)") as advance:
        assert advance is not None
        advance(2)
        advance(0, "cycle 1/2, loss 0.5")
        advance(2)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "training (optimal): 0/4 steps (0%), 0 s"
    assert err[-1].startswith("training (optimal): 4/4 steps (100%)")
    assert "\x1b" not in "".join(err)  # no terminal control codes in a log


def test_no_progress_when_disabled(capsys) -> None:
    with progress_bar(False, 4, "training") as advance:
        assert advance is None
    assert capsys.readouterr().err == ""
