"""Patches over a kernel version: the model side of `--kernel V+PATCH`.

`patchable` marks each model function of a kernel function (its first
argument the Ctx) so that a patched kernel can replace it; `PatchedKernel`
is what the rules then see as `ctx.version`. pmcheck.patches reads patch
files (the model reads no files). Any is allowed here: a replacement is a
reviewer's function over the rules' own types, checked by running it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from pmcheck.model.versions import TRAITS, KernelVersion, ModelFunction

# Every model function of a kernel function (first argument the Ctx), by
# name: what a patch (pmcheck.patches, `--kernel VERSION+PATCH`) may replace.
PATCHABLE: dict[str, ModelFunction] = {}

_F = TypeVar("_F", bound=Callable[..., Any])


def patchable(fn: _F) -> _F:
    """Let a patched kernel replace `fn`: the call goes to the patch's
    function of the same name, which gets the original as its first
    argument (to wrap it). Unpatched versions call `fn` itself."""
    name = fn.__name__
    if name in PATCHABLE:
        raise ValueError(f"model function {name!r} defined twice")
    PATCHABLE[name] = cast(ModelFunction, fn)

    @functools.wraps(fn)
    def call(k: Any, *args: Any, **kwargs: Any) -> Any:  # k: the rules' Ctx
        alt = k.version.replacement(name)
        if alt is None:
            return fn(k, *args, **kwargs)
        return alt(fn, k, *args, **kwargs)

    return cast(_F, call)


@dataclass(frozen=True)
class Patch:
    """A model delta (pmcheck.patches loads it from a file): trait switches,
    replaced model functions (each called with the original first), and the
    verdicts its author expects where they differ from the base's."""

    name: str  # a registered name (fix-F3) or the file's name
    digest: str  # sha256 of the file
    doc: str
    switches: Mapping[str, bool] = field(default_factory=dict)
    replaces: Mapping[str, ModelFunction] = field(default_factory=dict)
    expect: Mapping[str, str] = field(default_factory=dict)
    spec: str = ""  # how it was named on the command line (to load it again)


class PatchedKernel:
    """A released version with patches over it, handed to the rules as
    `ctx.version`: every trait reads as the base's unless a patch switches
    it (the last switch wins), and a patch's function replaces the model
    function of that name; two patches of one function compose, the later
    wrapping the earlier, so fixes of different defects can be stacked.
    Equal when base and patch files are."""

    def __init__(self, base: KernelVersion, patches: tuple[Patch, ...]) -> None:
        self.base = base
        self.patches = patches
        self.value = base.value + "".join(f"+{p.name}" for p in patches)
        # Identity: the base and each patch file's contents.
        self.key = base.value + "".join(f"+{p.name}@{p.digest[:16]}" for p in patches)
        self.spec = base.value + "".join(f"+{p.spec or p.name}" for p in patches)

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_") or name not in TRAITS:
            raise AttributeError(name)
        for p in reversed(self.patches):
            if name in p.switches:
                return p.switches[name]
        return bool(getattr(self.base, name))

    def replacement(self, name: str) -> ModelFunction | None:
        fns = [p.replaces[name] for p in self.patches if name in p.replaces]
        if len(fns) <= 1:
            return fns[0] if fns else None

        def chained(orig: Any, k: Any, *args: Any, **kwargs: Any) -> Any:
            for fn in fns:
                orig = functools.partial(fn, orig)
            return orig(k, *args, **kwargs)

        return cast(ModelFunction, chained)

    def expectation(self, prop: str) -> str | None:
        for p in reversed(self.patches):
            if prop in p.expect:
                return p.expect[prop]
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PatchedKernel) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"PatchedKernel({self.value})"

    def __reduce__(self) -> tuple[object, ...]:
        # -j workers load the same files again: pickle names LOADER
        # (pmcheck.patches.resolve) by module, so unpickling imports it.
        if LOADER is None:
            raise RuntimeError("a patched kernel needs pmcheck.patches to pickle it")
        return (LOADER, (self.spec,))


# Set by pmcheck.patches (the model does not read files): spec -> kernel.
LOADER: Callable[[str], object] | None = None
