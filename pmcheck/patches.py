"""Patches as model deltas: `--kernel VERSION+PATCH[+PATCH...]`.

A patch is a Python file a reviewer writes next to the patch under review,
in the model's own terms (docs/reviewers.md):

    \"\"\"What the patch does, one line.\"\"\"
    SWITCHES = {"flush_resets_fullmesh_max": True}   # flip documented traits
    EXPECT = {"P4F-fullmesh-counter": "PROVED"}      # verdicts it should change

    def mptcp_pm_nl_flush_addrs_doit(orig, k, st, inp):  # wrap a model function
        st, out = orig(k, st, inp)
        return st, out

Every module-level function whose name does not start with `_` must be the
name of a model function of a kernel function (model.rules.PATCHABLE); it is
called with the original first. PATCH is a registered name (the defect
ledger's candidate fixes, `fix-...`, properties/fixes/) or, on the command
line only, a path ending in `.py`. A scenario's `kernel` line may name
registered patches but never a file: a scenario arrives by email, and a file
named there would be code run on the reader's machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from pmcheck.model import patching, versions
from pmcheck.model.catalog import RULES  # noqa: F401  (registers every rule)
from pmcheck.model.patching import PATCHABLE, Patch, PatchedKernel
from pmcheck.model.versions import KernelVersion, parse_version

VERDICTS = ("PROVED", "VIOLATED", "HOLDS-TO-DEPTH")
_LOADED: dict[tuple[str, str], Patch] = {}


def registered() -> dict[str, Path]:
    """Registered patch name -> file: the ledger's fixes (fix_F3.py is `fix-F3`)."""
    fixes = resources.files("pmcheck.properties").joinpath("fixes")
    out = {}
    for entry in sorted(fixes.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py") and not entry.name.startswith("_"):
            out[entry.name[:-3].replace("_", "-")] = Path(str(entry))
    return out


def resolve(text: str, files: bool = True) -> KernelVersion | PatchedKernel:
    """A version, or a version with patches (`6.18-stable+fix-F3+mine.py`).
    `files`: whether a patch may be a file path (the command line) or only a
    registered name (a scenario's `kernel` line). Raises ValueError."""
    base_text, *names = text.split("+")
    base = parse_version(base_text.strip())
    if not names:
        return base
    return PatchedKernel(base, tuple(load(n.strip(), files) for n in names))


def load(word: str, files: bool = True) -> Patch:
    known = registered()
    if word in known:
        path, name = known[word], word
    elif word.endswith(".py") and files:
        path, name = Path(word), Path(word).name
        if not path.is_file():
            raise ValueError(f"patch {word}: no such file")
    elif word.endswith(".py"):
        raise ValueError(
            f"patch {word}: a scenario may name registered patches only "
            f"({', '.join(known) or 'none'}), never a file"
        )
    else:
        raise ValueError(f"unknown patch {word!r} (registered: {', '.join(known)}; or FILE.py)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"patch {word}: {e.strerror or e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if (name, digest) not in _LOADED:
        _LOADED[(name, digest)] = _patch(name, word, digest, path, _module(path, digest, word))
    return _LOADED[(name, digest)]


def _module(path: Path, digest: str, word: str) -> ModuleType:
    mod_name = f"pmcheck_patch_{digest[:16]}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"patch {word}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ValueError(f"patch {word}:{e.lineno}: {e.msg}") from None
    except Exception as e:  # the reviewer's code: report, never a traceback
        raise ValueError(f"patch {word}: {type(e).__name__}: {e}") from None
    return module


def _patch(name: str, word: str, digest: str, path: Path, module: ModuleType) -> Patch:
    from pmcheck.properties.catalog import all_properties

    switches = _mapping(module, "SWITCHES", word)
    for trait, on in switches.items():
        if trait not in versions.TRAITS:
            raise ValueError(
                f"patch {word}: SWITCHES: unknown switch {trait!r} "
                f"(known: {', '.join(versions.TRAITS)})"
            )
        if not isinstance(on, bool):
            raise ValueError(f"patch {word}: SWITCHES[{trait!r}] must be True or False")
    expect = _mapping(module, "EXPECT", word)
    props = all_properties()
    for prop, verdict in expect.items():
        if prop not in props:
            raise ValueError(f"patch {word}: EXPECT: unknown property {prop!r}")
        if verdict not in VERDICTS:
            raise ValueError(f"patch {word}: EXPECT[{prop!r}]: one of {', '.join(VERDICTS)}")
    replaces = {}
    for attr, value in vars(module).items():
        if attr.startswith("_") or not callable(value) or isinstance(value, type):
            continue
        if getattr(value, "__module__", None) != module.__name__:
            continue  # imported helpers
        if attr not in PATCHABLE:
            raise ValueError(
                f"patch {word}: {attr}: no model function of that name to replace "
                "(pmcheck patches --functions lists them)"
            )
        replaces[attr] = value
    if not (switches or replaces):
        raise ValueError(f"patch {word}: changes nothing (no SWITCHES, no functions)")
    doc = (module.__doc__ or "").strip().splitlines()
    return Patch(
        name,
        digest,
        doc[0] if doc else "",
        switches,
        replaces,
        expect,
        spec=word if word.endswith(".py") else name,
    )


def _mapping(module: ModuleType, attr: str, word: str) -> dict[str, Any]:
    value = getattr(module, attr, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"patch {word}: {attr} must be a dict keyed by names")
    return dict(value)


patching.LOADER = resolve
