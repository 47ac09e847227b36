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


def parse_size(text: str) -> int:
    """A --memory-budget value: '4G', '512M', '1.5GiB', '1000000' -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in units else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError as err:
        raise UsageError(f"cannot read memory budget '{text}'", "expected a size such as 4G, 512M or 1000000",
                         "pass e.g. --memory-budget 4G") from err
    if number <= 0:
        raise UsageError(f"memory budget '{text}' is not positive", "it bounds tensors held at once",
                         "pass e.g. --memory-budget 4G")
    return int(number * units[unit])
