"""pm_netlink.sh, from the selftests oracle, as one pmcheck scenario.

The oracle (`shared/reference/selftests-oracle.json`, key `pm_netlink.steps`)
transcribes the kernel selftest `tools/testing/selftests/net/mptcp/pm_netlink.sh`:
23 steps run one after the other on ONE namespace, each with `commands` in
pm_nl_ctl syntax, a `check` command and the expected table afterwards. This
module translates the pm_nl_ctl commands into the scenario text syntax
(`ip mptcp ...`) and builds a single scenario for all 23 steps, remembering
which scenario step is each oracle step's check and which one ends it.

It is a helper for tests/test_selftests_pm_netlink.py, and it writes
examples/pm_netlink.scn:

    python -m tests.selftests_oracle            # regenerate the example
    python -m tests.selftests_oracle --check    # exit 1 if it is stale

The oracle is vendored in tests/data/ (see tests/data/README.md), so a
fresh clone needs nothing beside it.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from pmcheck.scenario.ast import Scenario
from pmcheck.scenario.parser import parse_text

REPO_ROOT = Path(__file__).resolve().parents[1]
ORACLE = Path(__file__).resolve().parent / "data" / "selftests-oracle.json"
EXAMPLE = REPO_ROOT / "examples" / "pm_netlink.scn"

# pm_nl_ctl's `flags unknown` sets bit 7 (0x80), which no uapi flag uses: it
# checks that the kernel ignores unknown endpoint flags (0ace3297a730, v6.19-rc1
# "mptcp: pm: ignore unknown endpoint flags"). `ip mptcp` cannot send such a bit
# and neither can the scenario syntax (unknown flag words are input errors), so
# the command is left out. Since v7.1-rc3 pm_netlink.sh itself runs this check
# only with pm_nl_ctl. The step's state after its closing flush is still checked.
SKIP_REASONS = {
    "unknown": "no scenario syntax for pm_nl_ctl's flag bit 0x80 ('flags unknown'): "
    "ip mptcp knows named flags only",
}

# pm_nl_ctl `set` flag words map one to one onto `ip mptcp endpoint change` options.
SET_FLAGS = ("backup", "nobackup", "fullmesh", "nofullmesh")
ADD_FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar", "implicit")
AFTER_CHECK = "(after the check)"


class OracleMissing(Exception):
    """The vendored oracle JSON is missing or unreadable (tests fail with this)."""


class Untranslatable(Exception):
    """A pm_nl_ctl command with no scenario-syntax equivalent (see SKIP_REASONS)."""


def oracle_path() -> Path:
    """The vendored oracle JSON; raises OracleMissing if it is not there."""
    if not ORACLE.is_file():
        raise OracleMissing(f"selftests oracle not found at {ORACLE} (vendored in tests/data/)")
    return ORACLE


def load_pm_netlink_steps(path: Path | None = None) -> list[dict]:
    """The oracle's `pm_netlink.steps`, in order."""
    p = path or oracle_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return list(data["pm_netlink"]["steps"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise OracleMissing(f"cannot read pm_netlink.steps from {p}: {e}") from None


# --- pm_nl_ctl -> scenario text ------------------------------------------------


def _strip(command: str) -> str:
    """The command without its `# comment` and `(after the check)` note."""
    return command.split("#", 1)[0].replace(AFTER_CHECK, "").strip()


def _options(words: list[str], command: str) -> dict[str, str]:
    """pm_nl_ctl's `key value` pairs after the address."""
    if len(words) % 2:
        raise ValueError(f"pm_nl_ctl option without a value in {command!r}")
    opts = dict(zip(words[::2], words[1::2], strict=True))
    unknown = set(opts) - {"flags", "id", "dev", "port"}
    if unknown:
        raise ValueError(f"unknown pm_nl_ctl option(s) {sorted(unknown)} in {command!r}")
    return opts


def _add(args: list[str], command: str) -> str:
    addr, opts = args[0], _options(args[1:], command)
    flags = [f for f in opts.get("flags", "").split(",") if f]
    for f in flags:
        if f in SKIP_REASONS:
            raise Untranslatable(SKIP_REASONS[f])
        if f not in ADD_FLAGS:
            raise ValueError(f"unknown add flag {f!r} in {command!r}")
    out = ["ip mptcp endpoint add", addr]
    for key in ("port", "dev", "id"):
        if key in opts:
            out += [key, opts[key]]
    return " ".join(out + flags)


def _set(args: list[str], command: str) -> str:
    target = ["id", args[1]] if args[0] == "id" else [args[0]]
    opts = _options(args[len(target) :], command)
    if set(opts) - {"flags", "port"} or "flags" not in opts:
        raise ValueError(f"'set' takes flags (and port) only: {command!r}")
    flags = opts["flags"].split(",")
    bad = [f for f in flags if f not in SET_FLAGS]
    if bad:
        raise ValueError(f"unknown set flag(s) {bad} in {command!r}")
    port = ["port", opts["port"]] if "port" in opts else []
    return " ".join(["ip mptcp endpoint change", *target, *port, *flags])


def translate(command: str) -> list[str]:
    """Scenario lines for one pm_nl_ctl command (a `for` loop gives many).

    Raises Untranslatable for a command the scenario syntax cannot express,
    ValueError for one this translator does not know."""
    text = _strip(command)
    loop = re.fullmatch(r"for (\w+) in (\d+)\.\.(\d+):\s*(.+)", text)
    if loop:
        var, lo, hi, body = loop.group(1), int(loop.group(2)), int(loop.group(3)), loop.group(4)
        lines: list[str] = []
        for i in range(lo, hi + 1):
            for part in body.split(";"):
                lines += translate(part.replace(f"${var}", str(i)))
        return lines
    verb, *args = text.split()
    match verb, args:
        case "add", [_, *_]:
            return [_add(args, command)]
        case "del", [ident] | [ident, _]:
            return [" ".join(["ip mptcp endpoint delete id", ident, *args[1:]])]
        case "get", [ident]:
            return [f"ip mptcp endpoint show id {ident}"]
        case "dump", []:
            return ["ip mptcp endpoint show"]
        case "flush", []:
            return ["ip mptcp endpoint flush"]
        case "limits", []:
            return ["ip mptcp limits show"]
        case "limits", [accepted, subflows]:
            # pm_nl_ctl: limits <rcv addr max> <subflow max>
            return [f"ip mptcp limits set add_addr_accepted {accepted} subflows {subflows}"]
        case "set", [_, _, *_]:
            return [_set(args, command)]
    raise ValueError(f"cannot translate pm_nl_ctl command {command!r}")


def translate_check(check: str) -> str:
    """The oracle's check (`dump`, `get N`, `limits (get)`) as one scenario line."""
    if check == "limits (get)":
        return "ip mptcp limits show"
    (line,) = translate(check)
    return line


# --- the whole selftest as one scenario --------------------------------------


@dataclass(frozen=True)
class CommandStep:
    """One scenario step that comes from an oracle command (not its check)."""

    index: int  # scenario step index
    source: str  # the pm_nl_ctl command it came from
    expect_errno: int | None  # None: must succeed; 0: must fail (any errno)


@dataclass(frozen=True)
class Skipped:
    step_id: str
    command: str
    reason: str


@dataclass(frozen=True)
class OracleStep:
    """An oracle step and where it sits in the scenario."""

    spec: dict  # the oracle's JSON object for this step
    check_index: int  # scenario step index of the check command
    end_index: int  # scenario step index of the step's last command
    commands: tuple[CommandStep, ...]
    skipped: tuple[Skipped, ...]

    @property
    def id(self) -> str:
        return self.spec["id"]

    @property
    def check_reply_valid(self) -> bool:
        """The check's reply can be compared with `expect_endpoints`: no command
        before the check was skipped."""
        return all(AFTER_CHECK in s.command for s in self.skipped)


@dataclass(frozen=True)
class Replay:
    text: str
    scenario: Scenario
    steps: tuple[OracleStep, ...]

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(s for step in self.steps for s in step.skipped)


def _expected_errno(command: str, errors: list[str]) -> int | None:
    """From the oracle's `command_errors` ("add 10.0.1.3 fails (kernel: -EEXIST, ...)"):
    None when the command must succeed, else the errno named (0 = any error)."""
    text = _strip(command)
    for note in errors:
        if note.startswith(f"{text} fails"):
            named = re.search(r"-(E[A-Z]+)\b", note)
            return getattr(errno, named.group(1)) if named else 0
    return None


HEADER = """\
# pm_netlink.sh (Linux selftests, net/mptcp) replayed as one pmcheck scenario.
# GENERATED from shared/reference/selftests-oracle.json (pm_netlink.steps) by
#   python -m tests.selftests_oracle
# Do not edit by hand; rerun that command. All 23 steps run in sequence on one
# namespace; each block is one oracle step and its `# check:` line the command
# the selftest checks.
# Run it with `pmcheck diff examples/pm_netlink.scn` (needs root and MPTCP).
"""


class _Builder:
    """Accumulates the scenario text and counts the steps emitted so far."""

    def __init__(self) -> None:
        self.lines = [HEADER.rstrip("\n")]
        self.index = 0  # scenario index of the next step

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}" if text else "")

    def emit(self, scn_lines: list[str], note: str = "") -> range:
        """Append scenario lines; the first one carries `note` as a comment."""
        for n, text in enumerate(scn_lines):
            self.lines.append(f"{text}  # {note}" if note and n == 0 else text)
        first, self.index = self.index, self.index + len(scn_lines)
        return range(first, self.index)

    def commands(self, spec: dict, cmds: list[str]) -> tuple[list[CommandStep], list[Skipped]]:
        done: list[CommandStep] = []
        skipped: list[Skipped] = []
        errors = list(spec.get("command_errors", []))
        for c in cmds:
            try:
                scn = translate(c)
            except Untranslatable as e:
                skipped.append(Skipped(spec["id"], c, str(e)))
                self.comment(f"SKIPPED {_strip(c)!r}:")
                for part in textwrap.wrap(str(e), 90):
                    self.comment(f"  {part}")
                continue
            if len(scn) > 1:
                self.comment(_strip(c))
            want = _expected_errno(c, errors)
            note = ""
            if want is not None and len(scn) == 1:
                note = f"fails: -{errno.errorcode[want]}" if want else "fails"
            done += [CommandStep(i, _strip(c), want) for i in self.emit(scn, note)]
        return done, skipped


def build(steps: list[dict]) -> Replay:
    """One scenario for all the oracle steps, in order: each step's commands,
    then its check, then any command the oracle runs "(after the check)"."""
    b = _Builder()
    placed: list[OracleStep] = []
    for spec in steps:
        b.comment("")
        b.comment(f"{spec['id']} {spec['name']}")
        before, skipped = b.commands(spec, [c for c in spec["commands"] if AFTER_CHECK not in c])
        fails = " (fails)" if spec.get("check_cmd_fails") else ""
        (check_index,) = b.emit([translate_check(spec["check"])], f"check: {spec['check']}{fails}")
        after, skipped_after = b.commands(spec, [c for c in spec["commands"] if AFTER_CHECK in c])
        placed.append(
            OracleStep(
                spec,
                check_index,
                b.index - 1,
                tuple(before + after),
                tuple(skipped + skipped_after),
            )
        )
    text = "\n".join(b.lines) + "\n"
    scenario = parse_text(text, "examples/pm_netlink.scn")
    if len(scenario.steps) != b.index:
        raise AssertionError(
            f"translator emitted {b.index} steps, the parser read {len(scenario.steps)}"
        )
    return Replay(text, scenario, tuple(placed))


def replay(path: Path | None = None) -> Replay:
    """The oracle's pm_netlink steps as one scenario (raises OracleMissing)."""
    return build(load_pm_netlink_steps(path))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.selftests_oracle",
        description="Write examples/pm_netlink.scn from the selftests oracle.",
    )
    ap.add_argument("--oracle", type=Path, help="the oracle JSON (default: see module doc)")
    ap.add_argument("--output", type=Path, default=EXAMPLE)
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the output file is not up to date",
    )
    args = ap.parse_args(argv)
    try:
        r = replay(args.oracle)
    except OracleMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != r.text:
            print(f"{args.output} is stale: run python -m tests.selftests_oracle", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(r.text, encoding="utf-8")
    print(
        f"wrote {args.output}: {len(r.scenario.steps)} steps for {len(r.steps)} oracle "
        f"steps, {len(r.skipped)} command(s) skipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
