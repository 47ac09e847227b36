"""The README stands on its own (issue 15, acceptance 6): every file it names is in the repository."""

from __future__ import annotations

import re

from model_builders import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_document_the_readme_cites_is_in_the_repository():
    """Documents such as DESIGN.md or TENSORRT.md: a reader cannot follow a citation of a file the
    repository lacks. (Lower-case .md paths are outputs, e.g. --markdown reports/summary.md, or
    another project's files named with it.)"""
    named = set(re.findall(r"\b([A-Z][A-Z0-9_-]*\.md)\b", README)) - {"README.md"}
    missing = sorted(name for name in named if not any(REPO.glob(f"**/{name}")))
    assert not missing, f"README.md cites files that are not in the repository: {missing}"


def test_every_repository_path_the_readme_names_exists():
    paths = set(re.findall(r"`((?:trtdiff|tests|benchmarks|fixtures|scripts)/[\w./-]+)`", README))
    paths |= set(re.findall(r"^    ((?:trtdiff|benchmarks|fixtures)/[\w./-]*)", README, flags=re.MULTILINE))
    missing = sorted(p for p in paths if not (REPO / p.rstrip("/")).exists())
    assert paths and not missing, missing
