"""docs/reviewers.md shows outputs "as produced": they must still be.

Every fenced block that starts with `$ pmcheck ...` is rerun and compared
with what the page shows, except the seconds a run took.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pmcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "reviewers.md"
BLOCK = re.compile(r"```\n\$ (pmcheck [^\n]*)\n(.*?)\n```", re.S)


def _timeless(text: str) -> str:
    return re.sub(r"\d+\.\d s\)", "T s)", text)


@pytest.mark.parametrize(
    "command,shown",
    BLOCK.findall(GUIDE.read_text(encoding="utf-8")),
    ids=lambda x: x.split()[-1] if x.startswith("pmcheck") else "",
)
def test_guide_output_is_current(
    command: str, shown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    main(shlex.split(command)[1:])
    assert _timeless(capsys.readouterr().out.rstrip("\n")) == _timeless(shown)
