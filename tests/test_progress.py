"""Progress on every phase that can take more than a second (issue 15, acceptance 1): reading the
model, building the target, the reference run, the target run (segment by segment), the samples,
attribution and bisect evaluations, through one mechanism (trtdiff.progress), shown only when
stdout and stderr are terminals."""

from __future__ import annotations

import contextlib

import pytest

from model_builders import REPO
from trtdiff import api, pipeline, progress, segmented
from trtdiff.commands import bisect_setup

DEMO = REPO / "fixtures" / "demo_convnet.onnx"


class Recorder(progress.Phases):
    """A Phases that remembers what it was told: [description, total, steps] per phase."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[list] = []

    def start(self, description: str, total: int | None = None) -> None:
        self.log.append([description, total, 0])

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        self.log[-1][2] += steps


@pytest.fixture
def recorder(monkeypatch):
    seen = Recorder()

    @contextlib.contextmanager
    def phases(enabled: bool = True):
        assert enabled
        yield seen

    monkeypatch.setattr(pipeline, "phases", phases)
    return seen


def test_one_sample_shows_each_phase_and_each_target_segment(recorder, monkeypatch):
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 40_000)  # the demo's tensors are ~32 KB each
    comparison = api.compare(DEMO, "fp16", mark_all=True, attribute=True, progress=True)
    assert not comparison.passed
    names = [entry[0] for entry in recorder.log]
    assert names[:3] == ["reading the model and the data set", "building the target", "reference run"]
    assert "attribution: shadow models" in names
    (segments,) = [entry for entry in recorder.log if entry[0] == "target segments"]
    assert segments[1] > 1 and segments[2] == segments[1]  # one step per segment, all of them
    (shadows,) = [entry for entry in recorder.log if entry[0] == "attribution: shadow models"]
    assert shadows[2] >= 1  # a step per shadow model run


def test_many_samples_show_the_samples_not_each_sample_s_phases(recorder):
    api.compare(DEMO, "fp16", mark_all=True, iterations=3, attribute=False, progress=True)
    names = [entry[0] for entry in recorder.log]
    assert ["comparing samples", 3, 3] in recorder.log
    assert "reference run" not in names and "target run" not in names


def test_no_display_unless_stdout_and_stderr_are_terminals(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    assert not progress.wanted(True)
    with progress.phases(True) as bar:  # not wanted: a Phases that does nothing
        bar.start("x", 3)
        bar.advance()
    with progress.progress("y", 2, enabled=False) as advance:
        advance()


def test_bisect_evaluations_go_through_the_same_mechanism(monkeypatch):
    seen = Recorder()

    @contextlib.contextmanager
    def fake(description, total=None, enabled=True):
        seen.start(description, total)
        yield lambda steps=1, text=None: seen.log.append([text, None, steps])

    monkeypatch.setattr(bisect_setup, "progress", fake)
    with bisect_setup.progress_bar(True) as hook:
        hook(1, 12, False)
        hook(2, 6, True)
    assert seen.log[0][0] == "bisect: starting"
    assert seen.log[-1][0] == "bisect: 2 evaluations, FP32 set 6 nodes (pass)"


def test_a_phase_without_a_total_shows_no_count_left_from_the_phase_before():
    """After "comparing samples" (6 steps), the attribution's reference run (a spinner) showed
    "0/6": rich's reset keeps the old total when given None."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=io.StringIO()), transient=True) as display:
        bar = progress.Phases(display)
        bar.start("comparing samples", 6)
        bar.advance(6)
        bar.start("reference run of sample 5 (for attribution)")
        (task,) = display.tasks
        assert task.description == "reference run of sample 5 (for attribution)"
        assert task.total is None and task.completed == 0
        bar.start("attribution: shadow models", 3)
        bar.advance()
        (task,) = display.tasks
        assert (task.total, task.completed) == (3, 1)
