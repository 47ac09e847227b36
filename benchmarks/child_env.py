"""The environment the benchmarks' child processes run in: Python bytecode cached, as an installed
trtdiff has it.

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
from pathlib import Path

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
