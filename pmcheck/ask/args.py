"""The command-line options of `pmcheck ask` and `pmcheck versions`.

Light on purpose: the CLI builds its parser from it without loading Z3;
pmcheck.ask.command does the work.
"""

from __future__ import annotations

import argparse
from typing import Any

from pmcheck.argtypes import seconds
from pmcheck.model.versions import DEFAULT_VERSION

ENGINES = ("auto", "symbolic", "explicit", "both")


def add_parsers(sub: Any, versions: list[str]) -> None:
    """Register `ask` and `versions` on pmcheck's subcommand parser."""
    ask = sub.add_parser("ask", help="every outcome of a scenario with open events, as a table")
    ask.add_argument(
        "file",
        help="ask file: a scenario plus `any`/`events`/`settle`/`project` "
        'lines (docs/scenarios.md, "Open events")',
    )
    ask.add_argument(
        "--kernel",
        metavar="V[+PATCH...]",
        help=f"model version: {', '.join(versions)}, optionally with patches "
        f"(default: the file's `kernel` line, else {DEFAULT_VERSION.value})",
    )
    _engine_options(ask)
    vs = sub.add_parser(
        "versions",
        help="where kernel versions (or a version and a patch over it) disagree on a "
        "scenario, an ask file or a property",
    )
    vs.add_argument("file", nargs="?", help="scenario (.scn/.json) or ask file")
    vs.add_argument(
        "--property",
        metavar="NAME",
        help="instead of a file: the property's verdict on each version and a "
        "shortest trace that separates them",
    )
    vs.add_argument("--depth", type=int, default=6, help="BMC bound for --property (default 6)")
    vs.add_argument(
        "--kernel",
        metavar="V,V[,...]",
        help="the versions to compare, each optionally with patches "
        "(6.18-stable,6.18-stable+fix-F3; default: every released version)",
    )
    _engine_options(vs)


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="symbolic: Z3 enumeration with blocking; explicit: run every "
        "sequence concretely; both: run both, exit 4 if they differ; auto "
        "(default): symbolic, or explicit with an in-kernel peer (every "
        "delivery order makes the symbolic queries long)",
    )
    p.add_argument(
        "--max-outcomes",
        type=int,
        default=500,
        help="stop after this many outcomes (reported as incomplete)",
    )
    p.add_argument("--timeout", type=seconds, default=120.0, help="seconds per solver query")
    p.add_argument("--json", action="store_true", help="machine-readable output")
