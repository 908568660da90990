"""The verdict cache: content-addressed, so a run where nothing changed does
no solver work, and a change invalidates exactly the verdicts it can affect.

A key is the sha256 of
  - the *semantics* being checked: the Z3 encoding (SMT-LIB text) of the
    scope's initial state and transition relation, and of the property's
    `holds` and `premise`. Editing a rule changes the key of every verdict
    whose scope contains that rule (and only those: a rule outside the scope,
    a comment, or a 6.19-only branch leaves 6.18 keys alone);
  - the source of the engines and interpreters (`pmcheck/checker/*.py` but
    this cache, `records.py` and `suite.py`; `model/{backend,concrete_ops,
    z3_ops,state,symbolic}.py`; `properties/base.py`): the code that turns an
    encoding into a verdict. A change there invalidates every entry;
  - the property name, the engine, the whole `Scope` dataclass (so fields
    added later count), `k_max`, the `Limits`, whether witnesses are asked,
    the z3 version and this cache's schema; and, except for the
    depth-independent violation entry below, the BMC depth.

Reuse rules:
  - PROVED: same key, and every property its certificate used is in the
    current job with the same encoding (a Houdini proof may rest on other
    properties; running fewer of them would not reprove it).
  - VIOLATED: depends on the property and the system only. Reused at any
    depth >= its trace length (BMC deepens one step at a time, so the
    shortest trace is the same), when the trigger witness carries over too.
  - HOLDS-TO-DEPTH: only for the identical key and the identical job (the
    same set of properties, since more of them might have proved it).
  - UNKNOWN: never stored, never served.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import z3

from pmcheck.checker.records import FormatError, result_from_json, result_to_json, scope_to_json
from pmcheck.checker.run import Options
from pmcheck.checker.scope import Scope, checked_scope
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.properties.base import Property

CACHE_SCHEMA = "pmcheck-cache/1"
_CHECKER = Path(__file__).resolve().parent
# Files of the checker package that never change a verdict (this cache and the
# job runner around it; records.py only serializes; version_split.py is a
# separate command on top of the engines).
_NOT_SEMANTIC = {"cache.py", "records.py", "suite.py", "version_split.py"}
_INTERPRETERS = ("backend.py", "concrete_ops.py", "z3_ops.py", "state.py", "symbolic.py")


class CacheError(Exception):
    """The cache directory cannot be used (one line, for the CLI)."""


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _files_digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _package_dir(module: str) -> Path:
    import importlib

    return Path(importlib.import_module(module).__file__ or "").resolve().parent


def engine_digest() -> str:
    """The code that turns an encoding into a verdict (see the module docstring)."""
    model = _package_dir("pmcheck.model")
    props = _package_dir("pmcheck.properties")
    files = [f for f in _CHECKER.glob("*.py") if f.name not in _NOT_SEMANTIC]
    files += [model / n for n in _INTERPRETERS if (model / n).exists()]
    files.append(props / "base.py")
    return _files_digest(files)


def source_digest() -> str:
    """Every source file of the model, the properties and the checker: two
    shard results merge only when they were computed from the same sources."""
    files: list[Path] = []
    for module in ("pmcheck.model", "pmcheck.properties", "pmcheck.checker"):
        files += _package_dir(module).rglob("*.py")
    return _files_digest(files)


def system_digest(system: Any) -> str:
    """The scope's initial state and transition relation, as SMT-LIB text."""
    s0, s1 = system.state("k0"), system.state("k1")
    init = system.init(s0).sexpr()
    trans = system.trans(s0, system.inputs("k"), system.choice("k"), s1).sexpr()
    return _sha("system", init, trans)


def property_digest(system: Any, prop: Property) -> str:
    s = system.state("k0")
    return _sha(
        "property", prop.name, system.holds(prop, s).sexpr(), system.premise(prop, s).sexpr()
    )


@dataclass(frozen=True)
class JobKeys:
    """The keys of one job: its context, and each property's digest."""

    context: dict[str, Any]
    digests: dict[str, str]  # property name -> encoding digest, for the job's properties
    depth: int
    witnesses: bool
    job: str = field(default="")  # digest of the job's property set

    def key(self, prop: str, with_depth: bool = True) -> str:
        ctx = dict(self.context, property=prop, property_digest=self.digests[prop])
        if with_depth:
            ctx["depth"] = self.depth
        else:
            ctx["entry"] = "violation"
        return _sha(json.dumps(ctx, sort_keys=True))


def _rules_key() -> tuple[int, ...]:
    """Which rule functions are registered now (a test may swap one)."""
    from pmcheck.model.rules import RULES

    return tuple(id(r.fn) for r in RULES.values())


@functools.lru_cache(maxsize=64)
def _scope_digest(scope: Scope, rules: tuple[int, ...]) -> str:
    """system_digest of the scope's System, once per scope and rule set in a
    process: a connection scope is split into one job per property
    (suite.plan), and each would otherwise encode the same system again."""
    from pmcheck.checker.system import System

    return system_digest(System(scope))


def job_keys(
    props: list[Property], scope: Scope, opts: Options, engine_hash: str | None = None
) -> JobKeys:
    from pmcheck.checker.system import System

    system = System(scope)
    digests = {p.name: property_digest(system, p) for p in props}
    for p in props:  # checked on a patched kernel: its patches are part of the key
        if p.assumes:
            digests[p.name] = _sha(digests[p.name], checked_scope(p, scope).version.key)  # type: ignore[attr-defined]
    context = {
        "schema": CACHE_SCHEMA,
        "engine_source": engine_hash or engine_digest(),
        "system": _scope_digest(scope, _rules_key()),
        "engine": opts.engine,
        "scope": scope_to_json(scope),
        "k_max": opts.k_max,
        "limits": asdict(opts.limits),
        "witnesses": opts.witnesses,
        "z3": z3.get_version_string(),
    }
    job = _sha(*sorted(f"{n}={d}" for n, d in digests.items()))
    return JobKeys(context, digests, opts.depth, opts.witnesses, job)


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    stored: int = 0


class Cache:
    """A directory of JSON entries; safe for parallel writers (atomic renames)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stats = Stats()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Cache:
        root = Path(path)
        if root.exists() and not root.is_dir():
            raise CacheError(f"cache directory {str(root)!r} is not a directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CacheError(f"cache directory {str(root)!r}: {e.strerror or e}") from None
        if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
            raise CacheError(f"cache directory {str(root)!r} is not a writable directory")
        return cls(root)

    def _dir(self, key: str) -> Path:
        return self.root / "v1" / key[:2] / key

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("schema") == CACHE_SCHEMA else None

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # --- lookup and store --------------------------------------------------------------
    def lookup(self, keys: JobKeys, prop: str) -> Result | None:
        hit = self._lookup(keys, prop)
        if hit is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return hit

    def _lookup(self, keys: JobKeys, prop: str) -> Result | None:
        exact = self._dir(keys.key(prop))
        same_job = exact / f"{keys.job[:24]}.json"
        candidates = [same_job, *sorted(p for p in exact.glob("*.json") if p != same_job)]
        for path in candidates:
            r = self._usable(self._read(path), keys, prop)
            if r is not None:
                return r
        entry = self._read(self._dir(keys.key(prop, with_depth=False)) / "violation.json")
        r = self._result(entry)
        if entry is None or r is None or r.verdict is not Verdict.VIOLATED:
            return None
        if r.depth is None or r.depth > keys.depth:
            return None
        if keys.witnesses:  # the witness must be what a run at this depth finds
            w = r.witness
            stored_depth = entry.get("depth")
            ok = (
                (len(w) <= keys.depth)
                if w is not None
                else (isinstance(stored_depth, int) and keys.depth <= stored_depth)
            )
            if not ok:
                return None
        return r

    def _result(self, entry: dict[str, Any] | None) -> Result | None:
        if entry is None:
            return None
        try:
            return result_from_json(entry.get("result"))
        except FormatError:
            return None

    def _usable(self, entry: dict[str, Any] | None, keys: JobKeys, prop: str) -> Result | None:
        r = self._result(entry)
        if entry is None or r is None or r.prop != prop:
            return None
        if r.verdict is Verdict.VIOLATED:
            return r
        if r.verdict is Verdict.PROVED:
            deps = entry.get("deps")
            if not isinstance(deps, dict):
                return None
            return r if all(keys.digests.get(n) == d for n, d in deps.items()) else None
        if r.verdict is Verdict.HOLDS_TO_DEPTH:
            return r if entry.get("job") == keys.job else None
        return None  # UNKNOWN is never served

    def store(self, keys: JobKeys, result: Result) -> None:
        if result.verdict is Verdict.UNKNOWN:
            return
        prop = result.prop
        deps = (
            {n: keys.digests[n] for n in result.certificate if n in keys.digests and n != prop}
            if result.verdict is Verdict.PROVED
            else {}
        )
        entry = {
            "schema": CACHE_SCHEMA,
            "property": prop,
            "depth": keys.depth,
            "job": keys.job,
            "deps": deps,
            "result": result_to_json(result),
        }
        self._write(self._dir(keys.key(prop)) / f"{keys.job[:24]}.json", entry)
        if result.verdict is Verdict.VIOLATED:
            self._write(self._dir(keys.key(prop, with_depth=False)) / "violation.json", entry)
        self.stats.stored += 1
