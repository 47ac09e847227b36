"""The terminal view (issue 15, acceptance 1 and 4): the table fits the width with one line per
tensor, one status word, headers that say what they count, the summary last; results on stdout,
warnings and logs on stderr; -q and -v after the subcommand; NO_COLOR.

The pseudo-terminal test runs the real `trtdiff` at 80 and 100 columns, as a user would."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from model_builders import REPO
from trtdiff.result import comparison_from_json
from trtdiff.terminal import print_comparison
from trtdiff.terminal_table import shorten_middle

DEMO = REPO / "fixtures" / "demo_convnet.onnx"
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
ROW = re.compile(r"^\s*(\d+)\s\s+(\S+)")
LONG = "/model/encoder/layers.11/self_attn/MatMul_output_0/with/a/very/long/suffix"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's comparison, as `trtdiff run --fp16 --mark-all --json` wrote it."""
    from click.testing import CliRunner

    from trtdiff.cli import cli

    path = tmp_path_factory.mktemp("demo") / "demo.json"
    result = CliRunner().invoke(cli, ["run", str(DEMO), "--fp16", "--mark-all", "--json", str(path)])
    assert result.exit_code == 1, result.output
    return comparison_from_json(path.read_text())


def render(comparison, width: int, **kwargs) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    print_comparison(comparison, Console(file=out, width=width, highlight=False),
                     Console(file=err, width=width, highlight=False), **kwargs)
    return out.getvalue(), err.getvalue()


def table_rows(text: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in map(ROW.match, text.splitlines()) if m]


def with_long_names(comparison):
    renamed = [dataclasses.replace(t, name=f"{LONG}/{t.name}") for t in comparison.tensors]
    return dataclasses.replace(comparison, tensors=tuple(renamed))


def test_shorten_middle_keeps_both_ends():
    assert shorten_middle("abcdefghij", 7) == "abc…hij"
    assert shorten_middle("short", 7) == "short"
    assert len(shorten_middle(LONG, 20)) == 20 and shorten_middle(LONG, 20).endswith("suffix")


@pytest.mark.parametrize("width", [80, 100, 160])
def test_every_tensor_is_one_line_that_fits(demo, width):
    for comparison in (demo, with_long_names(demo)):
        out, _ = render(comparison, width)
        # next-step commands are printed unbroken so that they copy as one command
        assert max(len(line) for line in out.splitlines() if not line.startswith("Next: ")) <= width
        rows = table_rows(out)
        assert [index for index, _ in rows] == list(range(len(comparison.tensors)))
        long = comparison is not demo
        assert all(("…" in name) == long for _, name in rows)


def test_columns_by_priority_and_headers_that_say_what_they_count(demo):
    narrow, _ = render(demo, 80)
    wide_enough, _ = render(demo, 200)
    for header in ("tensor", "max abs", "SNR dB", "status", "target"):
        assert header in narrow
    assert "nan/inf" in narrow  # the NaN/Inf column says it counts the target's
    assert "cosine" not in narrow and "cosine" in wide_enough  # low priority: only when room
    assert "3,409 inf" in narrow  # head_out's infs in the target


def test_one_status_word_and_notes(demo):
    out, _ = render(demo, 160)
    lines = {name: line for line in out.splitlines() if (m := ROW.match(line)) for name in [m.group(2)]}
    assert re.search(r"\bFAIL\s+1st fail\s*$", lines["amplified"])
    assert re.search(r"\bFAIL\s+1st diverge\s*$", lines["head_out"])
    assert re.search(r"\bok\s*$", lines["stem_out"])
    assert re.search(r"\bFAIL\s+output\s*$", lines["probs"])
    assert "worst" not in out


def test_wide_shows_every_column_and_full_names(demo):
    out, _ = render(with_long_names(demo), 80, wide=True)
    for header in ("op", "shape", "cosine", "mean abs", "max rel", "outside", "amplifi-"):
        assert header in out
    assert LONG in out and "…" not in "".join(name for _, name in table_rows(out))
    assert max(len(line) for line in out.splitlines()) > 80


def test_summary_comes_last_in_order_and_warnings_go_to_err(demo):
    out, err = render(demo, 100)
    lines = out.splitlines()
    last_row = max(i for i, line in enumerate(lines) if ROW.match(line))
    verdict = next(i for i, line in enumerate(lines) if line.startswith("FAIL: "))
    first = next(i for i, line in enumerate(lines) if line.startswith("First divergence: 'head_out'"))
    offenders = next(i for i, line in enumerate(lines) if line.startswith("Top offenders"))
    assert last_row < verdict < first < offenders
    assert "'amplified' (Mul node 'amplify', #4) is first outside tolerance, but SNR" in out.replace("\n  ", " ")
    assert "warning:" not in out and "warning: ONNX Runtime" in err
    named = [line for line in lines[offenders:] if re.match(r"\s+\d+\. '", line)]
    assert named == ["  1. 'head_conv' (Conv, #5) score inf"]  # the others add rounding only


def test_quiet_prints_the_verdict_line_alone(demo):
    out, err = render(demo, 100, quiet=True)
    assert out.splitlines() == [out.splitlines()[0]] and out.startswith("FAIL: 0 of 1 outputs")
    assert err == ""


def test_model_strings_are_text_not_markup(demo):
    tensors = list(demo.tensors)
    tensors[0] = dataclasses.replace(tensors[0], name="[bold]x[/bold]")
    out, _ = render(dataclasses.replace(demo, tensors=tuple(tensors)), 160)
    assert "[bold]x[/bold]" in out


def test_cli_streams_quiet_and_verbose_after_the_subcommand(cli_run):
    quiet = cli_run("run", DEMO, "--fp16", "--mark-all", "-q")
    assert quiet.exit_code == 1
    assert quiet.stdout.splitlines() == [quiet.stdout.strip()] and quiet.stdout.startswith("FAIL")
    assert quiet.stderr == ""
    verbose = cli_run("run", DEMO, "--fp16", "-v")
    assert "INFO trtdiff" in verbose.stderr and "INFO" not in verbose.stdout
    assert "warning: ONNX Runtime" in verbose.stderr and "warning" not in verbose.stdout
    assert "FAIL: 0 of 1 outputs" in verbose.stdout
    assert "building the target" not in verbose.stderr  # no progress display when not on a terminal


def _in_terminal(columns: int, extra_env: dict[str, str]) -> str:
    """Run trtdiff on the demo in a pseudo-terminal `columns` wide; everything it wrote."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update({"TERM": "xterm-256color", **extra_env})
    command = [sys.executable, "-m", "trtdiff", "run", str(DEMO), "--fp16", "--mark-all"]
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=120) == 1
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.mark.slow
@pytest.mark.parametrize(("columns", "env"), [(80, {}), (100, {"NO_COLOR": "1"})])
def test_in_a_real_terminal_no_row_wraps(columns, env):
    raw = _in_terminal(columns, env)
    for phase in ("building the target", "target run", "attribution: shadow models"):
        assert phase in raw  # the progress display (stderr), erased once the run ends
    coloured = re.search(r"\x1b\[[0-9;]*(3[0-7]|38;5;\d+)m", raw) is not None
    assert coloured is ("NO_COLOR" not in env)
    text = ANSI.sub("", raw)
    assert max(len(line) for line in text.splitlines() if not line.startswith("Next: ")) <= columns
    rows = table_rows(text)
    assert [index for index, _ in rows] == list(range(12))  # one line per tensor, none wrapped
    assert rows[5][1] == "head_out"
    lines = text.splitlines()
    assert lines.index(next(line for line in lines if line.startswith("warning:"))) < lines.index(
        next(line for line in lines if ROW.match(line)))
    body = text.rstrip().split("\nNext: ")[0]
    assert body.splitlines()[-1].strip().endswith("while its inputs held none")  # the cause chain's last hint
    assert text.rstrip().splitlines()[-1].strip().startswith("(")  # the run ends with what to try next


def test_the_table_width_is_computed_as_rich_measures_it():
    """The columns that fit are chosen by arithmetic (rich's measurement took tenths of a second for
    a few dozen rows); it must agree with rich on any cell: wide characters, tabs, brackets, line
    breaks, empty columns."""
    import random
    import string

    from rich.console import Console

    from trtdiff.terminal_table import COLUMNS, _cells, _table, column_width, natural_width, table_width

    console = Console(width=120)
    rng = random.Random(1)
    alphabet = string.ascii_letters + "[]/.:_ -\t" + "界面ü"
    status = next(c for c in COLUMNS if c.header == "status")
    for _ in range(200):
        columns = [c for c in COLUMNS if c is status or rng.random() < 0.7]
        rows = rng.randrange(6)
        texts = {c.header: ["".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
                            + ("\nx" if rng.random() < 0.1 else "") for _ in range(rows)]
                 for c in columns}
        measured = natural_width(console, _table(columns, _cells(columns, texts)))
        assert table_width(column_width(c.header, texts[c.header]) for c in columns) == measured


def test_piped_output_has_no_trailing_spaces():
    """Into a pipe or a CI log, no line of stdout or stderr ends in spaces (rich pads table cells
    to their column's width, and a wrapped warning broke after a space)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    result = subprocess.run([sys.executable, "-m", "trtdiff", "run", str(DEMO), "--fp16", "--mark-all"],
                            capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 1, result.stderr
    assert "head_conv" in result.stdout and "warning" in result.stderr
    for stream in (result.stdout, result.stderr):
        padded = [line for line in stream.splitlines() if line != line.rstrip(" ")]
        assert not padded, padded[:3]


def test_the_mismatch_count_is_shown_only_where_an_elementwise_check_decides(demo, tmp_path):
    """With --check topk:1 the output is decided by top-1 agreement: its count of elements outside
    atol/rtol (non-zero here) would contradict its status, so terminal and report show a dash;
    the intermediates, still decided elementwise, keep their counts."""
    from click.testing import CliRunner

    from trtdiff.cli import cli
    from trtdiff.report.tables import TENSOR_COLUMNS, anchors, tensor_table
    from trtdiff.summary import elementwise_decided
    from trtdiff.terminal_table import Marks, outside_tolerance

    path = tmp_path / "topk.json"
    CliRunner().invoke(cli, ["run", str(DEMO), "--fp16", "--mark-all", "--check", "topk:1", "--json", str(path)])
    topk = comparison_from_json(path.read_text())
    decided = elementwise_decided(topk)
    output = next(t for t in topk.tensors if t.is_output)
    inner = next(t for t in topk.tensors if not t.is_output and t.metrics is not None and t.metrics.mismatches)
    assert output.metrics.mismatches > 0 and output.name not in decided and inner.name in decided
    marks = Marks(None, None, decided)
    assert outside_tolerance(output, marks) == "–" and outside_tolerance(inner, marks) not in ("–", "0")
    column = [key for key, *_ in TENSOR_COLUMNS].index("mismatches")
    rows = {row["cells"][1]["text"]: row for row in tensor_table(topk, anchors(topk))["rows"]}
    assert rows[output.name]["cells"][column]["text"] == "–"
    assert rows[inner.name]["cells"][column]["text"].startswith(f"{inner.metrics.mismatches:,}")
    out, _ = render(topk, 200)
    line = next(line for line in out.splitlines() if (m := ROW.match(line)) and m.group(2) == output.name)
    assert " – " in line
    assert elementwise_decided(demo) == {t.name for t in demo.tensors}  # the default: every tensor
