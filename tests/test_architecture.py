"""The code's structure, checked from its imports (every `import` statement, at module level or in a
function, `TYPE_CHECKING` blocks included): no import circles between trtdiff's modules, and
TensorRT imported in one module only (DESIGN.md, decision 7)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "trtdiff"
TENSORRT_MODULES = {"tensorrt", "tensorrt_rtx"}
TENSORRT_IMPORTER = "trtdiff.runners.trt"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The trtdiff modules `path` imports (`from trtdiff.a import b` names trtdiff.a.b when that is a
    module, else trtdiff.a)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for other in sorted(graph[name]):
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in on_stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_no_import_circles() -> None:
    assert _circles(_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_tensorrt_is_imported_in_one_module_only() -> None:
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in TENSORRT_MODULES for name in names):
                importers.add(_module_name(path))
    assert importers <= {TENSORRT_IMPORTER}


def test_only_the_command_line_imports_the_commands() -> None:
    """`trtdiff/commands/` is the thin shell: one module per command. The library (the Python API,
    baselines, the pipeline) and the shared options never reach up into it."""
    shell = {"trtdiff.cli", "trtdiff.__main__"}
    upward = sorted(f"{name} -> {other}" for name, imported in _graph().items() for other in imported
                    if other.startswith("trtdiff.commands") and not name.startswith("trtdiff.commands")
                    and name not in shell)
    assert upward == []


def test_the_public_names_are_not_shadowed_by_modules() -> None:
    """`trtdiff.compare` is a function: a module of the same name would replace it as the package's
    attribute once imported."""
    import trtdiff

    shadowed = [name for name in trtdiff.__all__
                if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()]
    assert shadowed == []


def test_every_import_of_trtdiff_names_a_module_that_exists() -> None:
    """Imports inside functions run only when called: a module renamed without them would fail late."""
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    missing = []
    for path in [*PACKAGE.rglob("*.py"), *PACKAGE.parent.joinpath("tests").rglob("*.py"),
                 *PACKAGE.parent.joinpath("benchmarks").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                     else [])
            missing += [f"{path.name}: {name}" for name in names
                        if name.split(".")[0] == "trtdiff" and name not in modules]
    assert missing == []
