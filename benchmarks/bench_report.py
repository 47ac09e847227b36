"""Benchmark: the HTML report for 1,000 tensors (issue 7, acceptance 5).

Targets: the file is at most 5 MB and Chromium renders it in under 2 s. Prints the median of
several runs of: writing the report (Python), its size, and in headless Chromium the wall time
from navigation to the first frames painted after the load event, with the browser's own
navigation timing (load event end) and first contentful paint. Exits 1 when a target is missed.

    .venv/bin/python benchmarks/bench_report.py [--runs 5] [--tensors 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

from report_factory import synthetic_comparison

from trtdiff.report import write_report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_BYTES = 5 * 1024 * 1024
MAX_RENDER_S = 2.0
SETTLED = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return [nav.loadEventEnd, paint ? paint.startTime : null];
}"""


def time_writes(path: Path, tensors: int, runs: int) -> list[float]:
    # 4 of the synthetic tensors are extras (graph input, unpaired, shape mismatch)
    comparison = synthetic_comparison(tensors - 4)
    assert len(comparison.tensors) == tensors
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        write_report(comparison, path)
        times.append(time.perf_counter() - start)
    return times


def time_renders(path: Path, runs: int) -> tuple[list[float], list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    walls, loads, paints = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m, seen=errors: seen.append(m.text) if m.type == "error" else None)
            start = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            page.evaluate(SETTLED)
            walls.append(time.perf_counter() - start)
            load_end, paint = page.evaluate(TIMING)
            loads.append(load_end / 1000)
            paints.append((paint or float("nan")) / 1000)
            if errors:
                raise SystemExit(f"console errors while rendering: {errors}")
            page.close()
        browser.close()
    return walls, loads, paints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tensors", type=int, default=1000)
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"report_{args.tensors}.html"

    writes = time_writes(path, args.tensors, args.runs)
    size = path.stat().st_size
    walls, loads, paints = time_renders(path, args.runs)
    median = statistics.median
    print(f"report for {args.tensors} tensors, median of {args.runs} runs")
    print(f"  write_report (Python):           {median(writes):.3f} s")
    print(f"  file size:                       {size / 1e6:.2f} MB ({size:,} bytes; target <= 5 MB)")
    print(f"  Chromium navigate -> painted:    {median(walls):.3f} s (target < {MAX_RENDER_S} s)")
    print(f"  Chromium load event end:         {median(loads):.3f} s")
    print(f"  Chromium first contentful paint: {median(paints):.3f} s")
    ok = size <= MAX_BYTES and median(walls) < MAX_RENDER_S
    print("  targets met" if ok else "  TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
