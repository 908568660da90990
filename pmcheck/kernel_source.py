"""The kernel source the model is pinned to: every function it may cite.

`model/kernel_functions.json` records, for each C function (and each
function-like macro of a header) of the MPTCP sources of the modeled kernel,
its file, line and a hash of its normalized definition. Tests check that every
kernel name the model cites is one of them; `changed` tells which of them a
newer kernel tree edits (comment and whitespace changes do not count):

    python -m pmcheck.kernel_source pin SRC_DIR model/kernel_functions.json
    python -m pmcheck.kernel_source changed model/kernel_functions.json SRC_DIR

SRC_DIR is a kernel tree (or a copy of just the pinned files, same layout).

Finding definitions is a heuristic for kernel-style C, not a C parser:

1. Comments and the contents of string and character literals are blanked
   (same length, newlines kept), and so are preprocessor lines with their
   `\\` continuations, so none of them can open or close a brace.
2. At brace depth 0, each `{` has a head: the text since the previous
   top-level `;` or `}` (or the start of the file), cut at its last blank
   line, so a stray macro call without `;` above it is not part of it.
3. The head is a function signature when it has no top-level `=` (that would
   be an initializer), and it has a name directly followed by a parenthesized
   parameter list with at least one type token (`static`, `inline`, `__cold`,
   a return type, possibly on its own line, or `*`) before the name; leading
   `__printf(...)`-style annotations (a name and parentheses with nothing
   before them) and trailing ones (`__must_hold(...)`) are allowed, anything
   else after the parameter list is not. Struct, union and enum definitions
   (no parameter list), prototypes (they end with `;` and never reach a `{`),
   macro calls at file scope (nothing before the name) and initializers are
   so skipped; the `{` may be on its own line (kernel style) or on the
   signature's line (`static inline void f(void) {}` stubs).
4. The definition runs from the first character of the head to the matching
   `}`. Its hash covers `normalize` of that original text.

A header's `#define NAME(` (a function-like macro, with its continuation
lines) is recorded too, with kind "macro". Known limits: a function whose
signature or braces differ between `#if` branches, and function-pointer
return types, are not understood.

A name defined more than once (`#ifdef` alternatives, a header stub of a
`.c` function) is keyed `name` for its first definition, taking `.c` files
before headers, then by path and line, and `name@file:line` for each other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

KERNEL = "6.18.10"
SOURCE = "Lemon1151/linux-6.18.y"
COMMIT = "b5efa8f0b61b5383a9070533d06e07b690bd8e20"  # "update to v6.18.10"

# The files pinned, relative to a kernel tree's top directory.
MPTCP_FILES: tuple[str, ...] = (
    "include/net/mptcp.h",
    "include/uapi/linux/mptcp.h",
    "include/uapi/linux/mptcp_pm.h",
    "net/mptcp/ctrl.c",
    "net/mptcp/diag.c",
    "net/mptcp/fastopen.c",
    "net/mptcp/mptcp_pm_gen.c",
    "net/mptcp/options.c",
    "net/mptcp/pm.c",
    "net/mptcp/pm_kernel.c",
    "net/mptcp/pm_netlink.c",
    "net/mptcp/pm_userspace.c",
    "net/mptcp/protocol.c",
    "net/mptcp/protocol.h",
    "net/mptcp/sched.c",
    "net/mptcp/sockopt.c",
    "net/mptcp/subflow.c",
    "net/mptcp/token.c",
)

# Beside the rules (package data of pmcheck.model), in a checkout or installed.
PINNED = Path(str(resources.files("pmcheck.model").joinpath("kernel_functions.json")))

_KEYWORDS = frozenset(
    {"if", "for", "while", "switch", "return", "sizeof", "typeof", "__typeof__", "do", "else"}
)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\(", re.MULTILINE)


@dataclass(frozen=True)
class FunctionInfo:
    name: str  # the C name (a key may add "@file:line")
    file: str  # relative to the source directory, with "/"
    line: int  # 1-based line of the name
    sha256: str  # of normalize(definition text)
    kind: str = "function"  # or "macro"


def _scan(text: str, blank_comments: bool, blank_strings: bool) -> str:
    """Copy `text` through a small C lexer: comments are blanked (spaces,
    newlines kept) or, without `blank_comments`, replaced by one space; the
    contents of string and character literals are blanked or kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            if blank_comments:
                out.append(re.sub(r"[^\n]", " ", text[i:end]))
            else:
                out.append(" ")
            i = end
        elif c == "/" and nxt == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            if blank_comments:
                out.append(" " * (end - i))
            else:
                out.append(" ")
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            if blank_strings:
                out.append(c + re.sub(r"[^\n]", " ", text[i + 1 : j - 1]) + text[j - 1])
            else:
                out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def normalize(body: str) -> str:
    """`body` without C comments (`/* */`, `//`; string literals are left
    alone), every run of whitespace one space, stripped."""
    return " ".join(_scan(body, blank_comments=False, blank_strings=False).split())


def _mask(text: str) -> str:
    """Same length and lines as `text`: comments, literal contents and
    preprocessor lines (with continuations) blanked."""
    masked = _scan(text, blank_comments=True, blank_strings=True)
    lines = masked.split("\n")
    cont = False
    for k, line in enumerate(lines):
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            lines[k] = " " * len(line)
    return "\n".join(lines)


def _tokens(head: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) over a head: "id", "()" (a whole balanced group),
    or "p" (one punctuation character)."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(head)
    while i < n:
        c = head[i]
        if c.isspace():
            i += 1
        elif m := _IDENT.match(head, i):
            out.append(("id", i, m.end()))
            i = m.end()
        elif c == "(":
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(head[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(("()", i, j))
            i = j
        else:
            out.append(("p", i, i + 1))
            i += 1
    return out


def _signature_name(head: str) -> int | None:
    """Offset of the function name in `head`, or None if it is no signature."""
    toks = _tokens(head)
    if any(k == "p" and head[s] == "=" for k, s, _ in toks):
        return None
    before = 0  # type tokens since the last name(...) pair
    for k, (kind, s, e) in enumerate(toks):
        if kind == "id" and k + 1 < len(toks) and toks[k + 1][0] == "()":
            if before and head[s:e] not in _KEYWORDS:
                rest = toks[k + 2 :]
                ok = all(t[0] in ("id", "()") for t in rest)
                ok = ok and all(
                    t[0] != "()" or (j > 0 and rest[j - 1][0] == "id") for j, t in enumerate(rest)
                )
                return s if ok else None
            before = -1  # an annotation: what follows starts afresh
        elif kind == "()":
            if before == -1:
                before = 0
                continue
            return None  # a bare parenthesized group: not a declaration we know
        elif kind == "id" or (kind == "p" and head[s] == "*"):
            before = 1 if before >= 0 else before
        else:
            return None
    return None


def _definitions(text: str) -> list[tuple[str, int, int, int]]:
    """(name, name offset, start, end) of every function defined in `text`."""
    masked = _mask(text)
    found: list[tuple[str, int, int, int]] = []
    depth, boundary, pending = 0, 0, None
    for i, c in enumerate(masked):
        if c == "{":
            if depth == 0:
                head = masked[boundary:i].rstrip()
                cut = [m.end() for m in _BLANK_LINE.finditer(head)]
                base = boundary + (cut[-1] if cut else 0)
                head = masked[base:i]
                off = _signature_name(head)
                pending = None
                if off is not None:
                    start = base + len(head) - len(head.lstrip())
                    name = _IDENT.match(head, off)
                    assert name is not None
                    pending = (name.group(), base + off, start)
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                if pending is not None:
                    found.append((*pending, i + 1))
                pending = None
                boundary = i + 1
        elif c == ";" and depth == 0:
            boundary = i + 1
    return found


def _macros(text: str) -> list[tuple[str, int, int, int]]:
    """(name, name offset, start, end) of every function-like `#define`."""
    found = []
    for m in _MACRO.finditer(_scan(text, blank_comments=True, blank_strings=False)):
        end = m.start()
        while True:
            nl = text.find("\n", end)
            if nl < 0:
                end = len(text)
                break
            if not text[end:nl].rstrip(" \t").endswith("\\"):
                end = nl
                break
            end = nl + 1
        found.append((m.group(1), m.start(1), m.start(), end))
    return found


def _file_order(rel: str) -> tuple[bool, str]:
    return (not rel.endswith(".c"), rel)


def functions(src_dir: Path, files: Iterable[str] | None = None) -> dict[str, FunctionInfo]:
    """Every function (and header function-like macro) defined in `files`
    (paths relative to `src_dir`; default: every .c and .h below it), keyed
    by name; see the module docstring for how duplicates are keyed."""
    src_dir = Path(src_dir)
    if files is None:
        files = [p.relative_to(src_dir).as_posix() for p in src_dir.rglob("*.[ch]")]
    found: list[FunctionInfo] = []
    for rel in sorted(files, key=_file_order):
        text = (src_dir / rel).read_text(encoding="utf-8", errors="surrogateescape")
        defs = [(d, "function") for d in _definitions(text)]
        if rel.endswith(".h"):
            defs += [(d, "macro") for d in _macros(text)]
        for (name, at, start, end), kind in sorted(defs, key=lambda d: d[0][1]):
            line = text.count("\n", 0, at) + 1
            digest = hashlib.sha256(normalize(text[start:end]).encode("utf-8", "surrogateescape"))
            found.append(FunctionInfo(name, rel, line, digest.hexdigest(), kind))
    out: dict[str, FunctionInfo] = {}
    for info in found:
        key = info.name if info.name not in out else f"{info.name}@{info.file}:{info.line}"
        out[key] = info
    return out


def dump_pinned(
    path: Path,
    funcs: dict[str, FunctionInfo],
    *,
    files: Sequence[str],
    kernel: str = KERNEL,
    source: str = SOURCE,
    commit: str | None = COMMIT,
) -> None:
    """Write `funcs` as the pinned JSON (sorted keys, indent 1: it diffs
    line by line). "kind" is written only for macros."""
    entries: dict[str, dict[str, Any]] = {}
    for key, f in funcs.items():
        entries[key] = {"file": f.file, "line": f.line, "sha256": f.sha256}
        if f.kind != "function":
            entries[key]["kind"] = f.kind
    doc: dict[str, Any] = {
        "kernel": kernel,
        "source": source,
        "files": sorted(files),
        "functions": entries,
    }
    if commit:
        doc["commit"] = commit
    Path(path).write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def load_header(path: Path = PINNED) -> dict[str, Any]:
    """The pinned JSON without its "functions": kernel, source, files..."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc.pop("functions")
    return doc


def load_pinned(path: Path = PINNED) -> dict[str, FunctionInfo]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        key: FunctionInfo(
            key.split("@", 1)[0], e["file"], e["line"], e["sha256"], e.get("kind", "function")
        )
        for key, e in doc["functions"].items()
    }


def _identities(funcs: dict[str, FunctionInfo]) -> dict[tuple[str, str, int], str]:
    """Key -> identity that survives line moves: a `name@file:line` key is
    the n-th such duplicate of that name in that file."""
    out: dict[tuple[str, str, int], str] = {}
    rank: dict[tuple[str, str], int] = {}
    for key, f in sorted(funcs.items(), key=lambda kv: (kv[1].file, kv[1].line)):
        if "@" in key:
            n = rank[(f.name, f.file)] = rank.get((f.name, f.file), 0) + 1
            out[(f.name, f.file, n)] = key
        else:
            out[(key, "", 0)] = key
    return out


def changed(
    pinned: dict[str, FunctionInfo], current: dict[str, FunctionInfo]
) -> dict[str, list[str]]:
    """Names whose normalized definition differs ("changed", under the
    current key), that are gone ("removed") or new ("added"). A moved
    function (other line or file) with the same text is unchanged."""
    old, new = _identities(pinned), _identities(current)
    return {
        "changed": sorted(
            new[i]
            for i in old.keys() & new.keys()
            if pinned[old[i]].sha256 != current[new[i]].sha256
        ),
        "removed": sorted(old[i] for i in old.keys() - new.keys()),
        "added": sorted(new[i] for i in new.keys() - old.keys()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pmcheck.kernel_source", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pin = sub.add_parser("pin", help="hash the pinned files of SRC_DIR into OUT")
    pin.add_argument("src_dir", type=Path)
    pin.add_argument("out", type=Path)
    pin.add_argument("--kernel", default=KERNEL)
    pin.add_argument("--source", default=SOURCE)
    pin.add_argument("--commit", default=COMMIT)
    diff = sub.add_parser("changed", help="which pinned functions SRC_DIR changes (exit 1 if any)")
    diff.add_argument("pinned", type=Path)
    diff.add_argument("src_dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "pin":
        funcs = functions(args.src_dir, MPTCP_FILES)
        dump_pinned(
            args.out,
            funcs,
            files=MPTCP_FILES,
            kernel=args.kernel,
            source=args.source,
            commit=args.commit,
        )
        print(f"{len(funcs)} definitions pinned in {args.out}")
        return 0
    files = [f for f in load_header(args.pinned)["files"] if (args.src_dir / f).exists()]
    result = changed(load_pinned(args.pinned), functions(args.src_dir, files))
    for what, names in result.items():
        for name in names:
            print(f"{what}: {name}")
    return 1 if any(result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
