"""The environment the benchmarks' child processes run in (Python bytecode cached, as an installed
trtdiff has it), and the whole-process clock they are timed with.

`pip install` compiles every module to bytecode, so a user's `trtdiff` imports compiled modules.
A development machine may set PYTHONDONTWRITEBYTECODE (this project's does): then trtdiff's own
~150 modules are compiled from source in every process (0.1-0.2 s), while numpy, onnx and ONNX
Runtime, installed by pip, load their bytecode; a whole-process comparison would charge trtdiff
for the machine's setting. The children get a bytecode cache of their own in a temporary folder
(PYTHONPYCACHEPREFIX, nothing is written into the source tree), filled before anything is timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child_env(cache: Path) -> dict[str, str]:
    """os.environ with bytecode written to and read from `cache`, trtdiff compiled into it; run
    each child command once before timing it, so that the libraries it imports are compiled too."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "trtdiff")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return env


def timed_child(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall seconds from start to exit and peak RSS (bytes) of one child process, from os.wait4;
    its standard output in "out". An exit code above 1 (1: a failing verdict) stops the benchmark."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code > 1:
        raise SystemExit(f"{' '.join(command[:6])} ... exited {code}")
    return {"wall_s": wall, "rss": usage.ru_maxrss * 1024.0, "out": out}
