"""Every kernel function the model names exists in the pinned kernel source.

`model/kernel_functions.json` lists the functions (and header function-like
macros) of the modeled kernel's MPTCP files (see pmcheck/kernel_source.py,
which also regenerates it from a kernel tree). These tests read only the
repository: the rules' `kernel_function`s and the kernel names that model
docstrings cite in backticks must be in it, and `changed` must notice an
edited function but not a reformatted one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import pmcheck.model.catalog  # noqa: F401  (registers every rule)
from pmcheck.kernel_source import PINNED, changed, functions, load_pinned
from pmcheck.model.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
PINNED_JSON = ROOT / "model" / "kernel_functions.json"
assert PINNED == PINNED_JSON

# The composite step the checker takes; its docstring says "no kernel function".
NOT_KERNEL = {"environment_step"}

# Kernel-style names: these must be pinned (or be listed in KNOWN_MISSING).
KERNEL_NAME = re.compile(
    r"_*mptcp_\w+|__mptcp_\w+|subflow_\w+|fill_\w+|select_\w+|lookup_\w+|check_\w+"
    r"|pm_\w+|__(?!\w*__$)[a-z]\w*"
)
# Other lowercase_with_underscores names: pinned, a name the model's own
# Python code defines (a function, parameter, field or variable: docstrings
# talk about those too), or in ALLOWLIST.
SNAKE_NAME = re.compile(r"_*[a-z][a-z0-9]*_[a-z0-9_]*")
BACKTICKED = re.compile(r"`([^`\n]+)`")
# A span that is a name, maybe with its arguments: `f`, `f()`, `f(msk, 0)`.
WHOLE = re.compile(r"([A-Za-z_]\w*)(?:\(.*\))?")
# In a longer code span (`needs_id = !f()`), a kernel-style name called there.
CALLED = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*\(")

# Cited names that are not functions of the pinned files. Keep it short.
ALLOWLIST = {
    # include/linux/rculist.h, the endpoint list operations pernet.py models
    "list_add_rcu",
    "list_add_tail_rcu",
    "list_del_rcu",
    # a bit of struct mptcp_subflow_context (net/mptcp/protocol.h), not a function
    "request_join",
    # the connect path below __mptcp_subflow_connect where an unreachable
    # pairing fails (net/socket.c, net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c,
    # include/net/route.h): model.topology.reachable
    "kernel_connect",
    "tcp_v4_connect",
    "tcp_v6_connect",
    "ip_route_connect",
}

# Cited as kernel functions but not defined in the pinned (6.18.10) source.
# The model is not edited here: each shows up as a strict xfail until fixed.
KNOWN_MISSING: dict[str, str] = {}


def _python_names(trees: list[ast.Module]) -> set[str]:
    """Names the model's Python code binds: defs, parameters, assignment
    targets, keyword arguments and attributes."""
    out: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add(node.name)
            elif isinstance(node, ast.arg):
                out.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
            elif isinstance(node, ast.keyword) and node.arg:
                out.add(node.arg)
            elif isinstance(node, ast.Attribute):
                out.add(node.attr)
    return out


def _cited() -> dict[str, list[str]]:
    """Kernel-looking names cited in backticks in model function docstrings,
    each with where ("model/x.py:LINE"), minus the model's own Python names
    that do not look like kernel functions."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(ROOT.glob("model/*.py"))}
    python = _python_names(list(trees.values()))
    cited: dict[str, list[str]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node, clean=False)
            if not doc:
                continue
            first = node.body[0].lineno
            for m in BACKTICKED.finditer(doc):
                span = m.group(1).strip()
                if whole := WHOLE.fullmatch(span):
                    names = {whole.group(1)}
                else:
                    names = {n for n in CALLED.findall(span) if KERNEL_NAME.fullmatch(n)}
                for name in names:
                    kernel_style = KERNEL_NAME.fullmatch(name) is not None
                    if not kernel_style and (not SNAKE_NAME.fullmatch(name) or name in python):
                        continue
                    where = f"{path.relative_to(ROOT)}:{first + doc[: m.start()].count(chr(10))}"
                    cited.setdefault(name, []).append(where)
    return cited


PINNED_NAMES = load_pinned(PINNED_JSON)
CITED = _cited()


def test_every_rule_names_a_pinned_kernel_function() -> None:
    kernel = {r.kernel_function for r in RULES.values()} - NOT_KERNEL
    assert len(kernel) > 10
    assert sorted(kernel - PINNED_NAMES.keys()) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSING[n]))
        if n in KNOWN_MISSING
        else n
        for n in sorted(CITED.keys() - NOT_KERNEL - ALLOWLIST)
    ],
)
def test_every_kernel_name_cited_in_model_docstrings_is_pinned(name: str) -> None:
    assert name in PINNED_NAMES, f"{name} cited at {', '.join(CITED[name])} is not pinned"


def test_allowlist_and_known_missing_are_current() -> None:
    """Entries that nothing cites any more, or that became pinned, go."""
    assert sorted((ALLOWLIST | KNOWN_MISSING.keys()) - CITED.keys()) == []
    assert sorted((ALLOWLIST | KNOWN_MISSING.keys()) & PINNED_NAMES.keys()) == []
    # the docstring scan does find the citations it is meant to find
    assert {"mptcp_pm_nl_rm_addr", "__mptcp_pm_close_subflow", "subflow_check_req"} <= set(CITED)


def test_changed_detects_an_edited_function(tmp_path: Path) -> None:
    src = tmp_path / "net"
    src.mkdir()
    c = src / "f.c"
    c.write_text(
        "/* two functions */\n"
        "static int\n"
        "edited(struct sock *sk,\n"
        "       int x)\n"
        "{\n"
        "\treturn x + 1;\n"
        "}\n"
        "\n"
        "static const struct ops o = {\n"
        "\t.f = edited,\n"
        "};\n"
        "\n"
        "void reformatted(void)\n"
        "{\n"
        '\tpr_debug("{ not a brace }");\n'
        "}\n",
        encoding="utf-8",
    )
    pinned = functions(tmp_path, ["net/f.c"])
    assert sorted(pinned) == ["edited", "reformatted"]
    assert (pinned["edited"].line, pinned["reformatted"].line) == (3, 13)

    text = c.read_text(encoding="utf-8")
    c.write_text(text.replace("x + 1", "x + 2"), encoding="utf-8")
    assert changed(pinned, functions(tmp_path, ["net/f.c"])) == {
        "changed": ["edited"],
        "removed": [],
        "added": [],
    }

    c.write_text(
        "// a new header comment\n\n"
        + text.replace("\tpr_debug(", "  /* comment */\n        pr_debug("),
        encoding="utf-8",
    )
    assert changed(pinned, functions(tmp_path, ["net/f.c"])) == {
        "changed": [],
        "removed": [],
        "added": [],
    }
