"""The house's layers (docs/ARCHITECTURE.md): model/ imports nothing from
the rest of pmcheck, its modules form no import cycle, and none of them
hides an import inside a function to dodge one."""

from __future__ import annotations

import ast
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "model"
PREFIX = "pmcheck.model"


def _imports() -> dict[str, list[tuple[str, bool]]]:
    """module -> [(imported pmcheck module, at module level?)]."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted(MODEL.glob("*.py")):
        name = PREFIX if path.stem == "__init__" else f"{PREFIX}.{path.stem}"
        found = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            top = node.col_offset == 0 if isinstance(node, ast.stmt) else True
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pmcheck"):
                module = str(node.module)
                found.append((module, top))
                found += [(f"{module}.{a.name}", top) for a in node.names]
            elif isinstance(node, ast.Import):
                found += [(a.name, top) for a in node.names if a.name.startswith("pmcheck")]
        out[name] = found
    return out


def test_model_imports_nothing_from_the_rest_of_pmcheck() -> None:
    outside = {
        (m, target)
        for m, found in _imports().items()
        for target, _ in found
        if not target.startswith(PREFIX)
    }
    assert outside == set()


def test_model_has_no_function_level_import() -> None:
    late = {(m, t) for m, found in _imports().items() for t, top in found if not top}
    assert late == set()


def test_model_modules_form_no_cycle() -> None:
    imports = _imports()
    graph = {m: {t for t, _ in found if t in imports and t != m} for m, found in imports.items()}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in done:
            return
        assert m not in visiting, f"import cycle: {' -> '.join([*path, m])}"
        visiting.add(m)
        for t in sorted(graph[m]):
            visit(t, [*path, m])
        visiting.discard(m)
        done.add(m)

    for m in sorted(graph):
        visit(m, [])


def test_no_model_function_is_longer_than_sixty_lines() -> None:
    """A rule reads like the kernel function it names; anything longer is
    split into the kernel's own steps (docs/ARCHITECTURE.md)."""
    long = [
        f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted(MODEL.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and (node.end_lineno or 0) - node.lineno >= 60
    ]
    assert long == []
