"""Resource checks made before allocating: a request whose tensors cannot fit in this machine's
memory is refused with the size it would take, instead of failing (or swapping) half-way."""

from __future__ import annotations

import os

from trtdiff.errors import UsageError

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(size: int | float) -> str:
    """1536 -> '1.5 KiB'; a size for people."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"


def check_fits_in_memory(what: str, size: int, fix: str, available: int | None = None) -> None:
    """UsageError when `size` bytes (of `what`, e.g. "one sample of --input-shapes ...") exceed
    the memory available now."""
    free = available_memory() if available is None else available
    if free is not None and size > free:
        raise UsageError(f"{what} would take {format_bytes(size)}",
                         f"this machine has {format_bytes(free)} of memory available", fix)
