"""`pmcheck stale SRC_DIR`: which rules a kernel tree makes stale.

The model is pinned to the functions of the kernel it was written from
(model/kernel_functions.json, pmcheck.kernel_source). Given a newer tree (or
a tree with a patch under review applied), this lists each pinned function
whose normalized definition changed or that is gone, and every model
function whose docstring cites it: the rules to re-read against the patch.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pmcheck.kernel_source import changed, functions, load_header, load_pinned

_CITED = re.compile(r"`(_*[a-z][a-z0-9_]*_[a-z0-9_]+)(?:\(\))?`")


@dataclass(frozen=True)
class Stale:
    kernel_function: str
    status: str  # "changed" or "removed"
    cited_by: tuple[str, ...]  # model/FILE.py:LINE FUNCTION


def citations() -> dict[str, list[str]]:
    """Kernel name -> the model functions whose docstring names it."""
    out: dict[str, list[str]] = {}
    model = resources.files("pmcheck.model")
    for entry in sorted(model.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".py"):
            continue
        tree = ast.parse(entry.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                where = f"model/{entry.name}:{node.lineno} {node.name}"
                for name in dict.fromkeys(_CITED.findall(doc)):
                    out.setdefault(name, []).append(where)
    return out


def stale(src_dir: Path) -> list[Stale]:
    """Every pinned function SRC_DIR changes or removes, with its citations."""
    header = load_header()
    present = [f for f in header["files"] if (src_dir / f).exists()]
    if not present:
        raise FileNotFoundError(f"{src_dir}: none of the pinned files (e.g. {header['files'][0]})")
    result = changed(load_pinned(), functions(src_dir, present))
    cites = citations()
    return [
        Stale(name, status, tuple(cites.get(name.split("@", 1)[0], ())))
        for status in ("changed", "removed")
        for name in result[status]
    ]


def render(items: list[Stale], src_dir: Path) -> str:
    header = load_header()
    lines = [
        f"pmcheck stale {src_dir}: against the pinned {header['kernel']} "
        f"({header['source']} {header.get('commit', '')[:12]})"
    ]
    cited = [s for s in items if s.cited_by]
    for s in cited:
        lines.append(f"{s.status}: {s.kernel_function}")
        lines.extend(f"  re-read {where}" for where in s.cited_by)
    others = [s.kernel_function for s in items if not s.cited_by]
    if others:
        lines.append(
            f"{len(others)} more changed or removed, cited by no rule: {', '.join(others)}"
        )
    if not items:
        lines.append("nothing the model is pinned to changed")
    else:
        lines.append(f"{len(cited)} cited by the model, {len(others)} not")
    return "\n".join(lines)
