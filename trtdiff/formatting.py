"""Number formatting for the terminal and the report: every figure either shows is turned into
text here, so that the report's template only places strings (DESIGN: no numbers computed in the
template) and the two say the same figure the same way.

Sort keys are separate strings that JavaScript's `Number()` reads back ("Infinity" included); a
missing or NaN value gets an empty key so that it sorts last in either direction.
"""

from __future__ import annotations

import math

MISSING = "–"


def _special(value: float | None) -> str | None:
    """The text for a missing, NaN or infinite value; None for an ordinary number."""
    if value is None:
        return MISSING
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def fmt_exact(value: float) -> str:
    """A number the user gave (a tolerance, a threshold): short when that reads back as the same
    float ("0.001", "1e-05"), else with every digit it needs ("0.99999999", where "%g" says "1"),
    so that a command written from it judges exactly as the one it came from."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def fmt_share_exact(share: float) -> str:
    """A share the user gave (--min-agreement) as a percentage with the digits it needs: 90.0%,
    99.99%, never 100.0% for 0.9999."""
    for places in range(1, 16):
        text = f"{share * 100:.{places}f}"
        if abs(float(text) / 100 - share) <= 1e-12 * abs(share):
            return f"{text}%"
    return f"{share * 100!r}%"


def fmt_error(value: float | None) -> str:
    """An absolute or relative error: three significant digits, scientific when small or large."""
    special = _special(value)
    if special is not None:
        return special
    assert value is not None
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.2e}"


def fmt_cosine(value: float | None) -> str:
    """Cosine similarity, with enough digits to tell 0.99999 from 1."""
    if value is None:
        return MISSING
    if math.isnan(value):
        return "NaN"
    return f"{value:.6f}"


def fmt_db(value: float | None) -> str:
    """Signal-to-noise ratio in decibels."""
    special = _special(value)
    return special if special is not None else f"{value:.1f}"


def fmt_ratio(value: float | None) -> str:
    """Amplification (cumulative over incoming error), e.g. '12.3×'."""
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "inf"
    if value >= 1e4 or 0 < value < 1e-2:
        return f"{value:.1e}×"
    return f"{value:.3g}×"


def fmt_count(count: int | None, total: int | None = None) -> str:
    """A count, with its share of `total` when that is known: '123 (1.2%)'."""
    if count is None:
        return MISSING
    if not total or count == 0:
        return f"{count:,}"
    share = 100.0 * count / total
    return f"{count:,} ({share:.0f}%)" if share >= 10 else f"{count:,} ({share:.2g}%)"


def fmt_seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.01 else f"{value * 1000:.1f} ms"


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    return MISSING if shape is None else "[" + ",".join(str(d) for d in shape) + "]"


def fmt_percent(value: float) -> str:
    """A CSS percentage (bar heights)."""
    return f"{value:.1f}%"


def sort_key(value: float | None) -> str:
    """A string JavaScript's Number() reads back; empty for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)
