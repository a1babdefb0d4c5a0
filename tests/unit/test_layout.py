"""The package's shape: no import cycles, the library never imports the optional simulator,
imports sit at the top of modules (a lazy import says why on the line before it)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "downhill_live"


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def top_level_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the package imported at module level (not under ``if TYPE_CHECKING``)."""
    deps: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                deps.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
    return {d for d in deps if d in known}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return [*stack[stack.index(w) :], w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    known = modules()
    graph = {m: top_level_imports(p, known) - {m} for m, p in known.items()}
    assert len(graph) > 30
    assert find_cycle(graph) is None


def test_library_never_imports_the_simulator() -> None:
    known = modules()
    for m, p in known.items():
        if m.startswith("downhill_live.sim"):
            continue
        sim = {d for d in top_level_imports(p, known) if d.startswith("downhill_live.sim")}
        assert not sim, f"{m} imports {sim}"


def test_lazy_imports_say_why() -> None:
    unexplained = []
    for m, p in modules().items():
        lines = p.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
                continue
            if isinstance(node, ast.ImportFrom) and node.module is None:
                continue
            # TYPE_CHECKING blocks and comments on or just above the import explain it
            above = "\n".join(lines[max(0, node.lineno - 4) : node.lineno])
            if "#" not in above and "TYPE_CHECKING" not in above:
                unexplained.append(f"{m}:{node.lineno}")
    assert not unexplained, f"lazy imports without a reason: {unexplained}"
