"""The terminal's tensor table, fitted to the terminal's width.

Columns have priorities: the tensor's name, its status and the two figures that matter most
(largest absolute error and SNR) are always there; the others join, most useful first, while the
table still fits. Long names are shortened in the middle (the start and the end of
'/model/blocks.7/attn/Exp_output_0' say the most). No cell ever wraps, so a row is one line.
`wide=True` shows every column and full names, however wide that is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from trtdiff import formatting as fmt
from trtdiff.result import Comparison, TensorResult

MIN_NAME = 24  # the tensor column never gets narrower than this (names are shortened to fit)
OP_CHARS = 14
STATUS_WORDS = {"reference_only": "ref-only", "target_only": "tgt-only", "shape_mismatch": "SHAPE"}


@dataclass(frozen=True)
class Marks:
    """Tensors the table points out in its notes column, and those whose mismatch count it shows."""

    first_failure: str | None  # the first tensor outside tolerance
    significant: str | None  # the first whose SNR is below the divergence threshold (or NaN/Inf)
    # the tensors an elementwise check decides (None: every tensor). Where a statistic or a task
    # check (max, cosine, topk...) decides, the count of elements outside atol/rtol could contradict
    # the tensor's status, so that cell shows a dash
    elementwise: frozenset[str] | None = None


@dataclass(frozen=True)
class Column:
    header: str
    priority: int  # 0: always shown; higher numbers are dropped first when the table is too wide
    cell: Callable[[TensorResult, Marks], str]
    numeric: bool = True
    attribution: bool = False  # only when attribution ran


def shorten_middle(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis replacing its middle."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    tail = width // 2
    return text[:width - 1 - tail] + "…" + text[len(text) - tail:]


def status_word(tensor: TensorResult) -> str:
    """One word: ok, FAIL, unchecked (compared, no tolerance), ref-only, tgt-only or SHAPE."""
    if tensor.status != "compared":
        return STATUS_WORDS[tensor.status]
    return {True: "ok", False: "FAIL", None: "unchecked"}[tensor.passed]


def notes(tensor: TensorResult, marks: Marks) -> str:
    found = [("output", tensor.is_output), ("1st diverge", tensor.name == marks.significant),
             ("1st fail", tensor.name == marks.first_failure)]
    return " ".join(label for label, present in found if present)


def target_nonfinite(tensor: TensorResult) -> str:
    """The target's NaN and Inf counts, with the reference's when it has any."""
    m = tensor.metrics
    if m is None:
        return ""
    text = " ".join(f"{count:,} {label}" for label, count in (("nan", m.nan_target), ("inf", m.inf_target)) if count)
    if m.nan_ref or m.inf_ref:
        text += f" (ref {m.nan_ref:,}/{m.inf_ref:,})"
    return text.strip()


def outside_tolerance(tensor: TensorResult, marks: Marks | None = None) -> str:
    m = tensor.metrics
    if m is None:
        return ""
    if marks is not None and marks.elementwise is not None and tensor.name not in marks.elementwise:
        return fmt.MISSING
    if m.mismatches == 0 or m.size == 0:
        return "0"
    share = 100.0 * m.mismatches / m.size
    if share < 0.1:
        return f"{m.mismatches:,}"
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


def _metric(read: Callable[[TensorResult], float | None], shown: Callable[[float | None], str]
            ) -> Callable[[TensorResult, Marks], str]:
    return lambda t, _marks: "" if t.metrics is None else shown(read(t))


COLUMNS: tuple[Column, ...] = (
    Column("#", 1, lambda t, _m: str(t.index) if t.index >= 0 else "in"),
    Column("tensor", 0, lambda t, _m: t.name, numeric=False),
    Column("op", 2, lambda t, _m: shorten_middle(t.op_type, OP_CHARS), numeric=False),
    Column("shape", 5, lambda t, _m: "?" if t.shape is None else ("x".join(map(str, t.shape)) or "scalar")),
    Column("max abs\nerror", 0, _metric(lambda t: t.metrics.max_abs, fmt.fmt_error)),  # type: ignore[union-attr]
    Column("mean abs\nerror", 7, _metric(lambda t: t.metrics.mean_abs, fmt.fmt_error)),  # type: ignore[union-attr]
    Column("max rel\nerror", 6, _metric(lambda t: t.metrics.max_rel, fmt.fmt_error)),  # type: ignore[union-attr]
    Column("cosine", 6, _metric(lambda t: t.metrics.cosine, fmt.fmt_cosine)),  # type: ignore[union-attr]
    Column("SNR dB", 0, _metric(lambda t: t.metrics.snr_db, fmt.fmt_db)),  # type: ignore[union-attr]
    Column("outside\ntolerance", 3, outside_tolerance),
    Column("target\nnan/inf", 1, lambda t, _m: target_nonfinite(t)),
    Column("local\nmax abs", 2, lambda t, _m: "" if t.local is None else fmt.fmt_error(t.local.max_abs), attribution=True),
    Column("amplifi-\ncation", 4, lambda t, _m: fmt.fmt_ratio(t.amplification) if t.amplification is not None else "",
           attribution=True),
    Column("status", 0, lambda t, _m: status_word(t), numeric=False),
    Column("notes", 1, notes, numeric=False),
)


STATUS_STYLES = {"FAIL": "bold red", "SHAPE": "bold red", "ok": "green"}


def _table(columns: Sequence[Column], cells: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    for column in columns:
        table.add_column(column.header, justify="right" if column.numeric else "left", no_wrap=True,
                         overflow="crop")
    status = [c.header for c in columns].index("status")
    for row in cells:
        table.add_row(*(Text(cell, style=STATUS_STYLES.get(cell, "") if i == status else "")
                        for i, cell in enumerate(row)))
    return table


def natural_width(console: Console, table: Table) -> int:
    """The table's natural width (measured without the console's limit, which would clamp it)."""
    return Measurement.get(console, console.options.update_width(1_000_000), table).maximum


def tensor_table(comparison: Comparison, rows: Sequence[TensorResult], marks: Marks, console: Console,
                 *, wide: bool = False) -> Table:
    """The table of `rows`, with the columns that fit `console.width` (all of them when `wide`)."""
    attributed = any(t.local is not None for t in comparison.tensors)
    usable = [c for c in COLUMNS if attributed or not c.attribution]
    texts = {c.header: [c.cell(t, marks) for t in rows] for c in usable}
    usable = [c for c in usable if c.priority == 0 or any(texts[c.header])]  # no empty columns
    names = texts["tensor"]
    if wide:
        return _table(usable, _cells(usable, texts))
    longest = max((len(n) for n in names), default=0)
    narrow = min(longest, MIN_NAME)
    texts["tensor"] = [shorten_middle(n, narrow) for n in names]
    widths = {c.header: column_width(c.header, texts[c.header]) for c in usable}
    chosen = [c for c in usable if c.priority == 0]
    for column in sorted((c for c in usable if c.priority > 0), key=lambda c: c.priority):
        trial = [c for c in usable if c in chosen or c is column]
        if table_width(widths[c.header] for c in trial) <= console.width:
            chosen = trial
    spare = console.width - table_width(widths[c.header] for c in chosen)
    texts["tensor"] = [shorten_middle(n, narrow + max(0, spare)) for n in names]
    return _table(chosen, _cells(chosen, texts))


def column_width(header: str, cells: Sequence[str]) -> int:
    """A column's natural width in `_table`, as rich measures it: its widest line (header
    included) and its right padding."""
    return max((cell_len(line) for text in (header, *cells) for line in text.splitlines()), default=0) + 1


def table_width(column_widths: Iterable[int]) -> int:
    """The natural width of a `_table` of columns this wide (`natural_width` of it, without
    building and measuring it: rich takes a tenth of a second for a few dozen rows): the columns
    and one separator between each two."""
    widths = list(column_widths)
    return sum(widths) + len(widths) - 1


def _cells(columns: Sequence[Column], texts: dict[str, list[str]]) -> list[list[str]]:
    return [list(row) for row in zip(*(texts[c.header] for c in columns))]
