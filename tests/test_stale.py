"""`pmcheck stale SRC_DIR`: a kernel tree whose function changed names the
model functions that cite it, and only those; whitespace and comments do
not count. Runs on a small fake tree pinned for the test (the real pinned
source is not in the repository, only its hashes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pmcheck import kernel_source, stale
from pmcheck.cli import main

LAMINAR = """static unsigned int fill_local_laminar_endp(struct mptcp_sock *msk,
\t\t\t\t\t    struct mptcp_addr_info *remote)
{
\treturn 0;
}
"""
OTHER = """static void not_cited_anywhere(void)
{
\t/* nothing */
}
"""
FILE = "net/mptcp/pm_kernel.c"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: Any) -> Path:
    src = tmp_path / "src"
    (src / "net/mptcp").mkdir(parents=True)
    (src / FILE).write_text(LAMINAR + "\n" + OTHER, encoding="utf-8")
    pinned = tmp_path / "pinned.json"
    kernel_source.dump_pinned(pinned, kernel_source.functions(src, [FILE]), files=[FILE])
    monkeypatch.setattr(stale, "load_pinned", lambda: kernel_source.load_pinned(pinned))
    monkeypatch.setattr(stale, "load_header", lambda: kernel_source.load_header(pinned))
    return src


def test_an_unchanged_tree_makes_nothing_stale(tree: Path, capsys: Any) -> None:
    assert main(["stale", str(tree)]) == 0
    assert "nothing the model is pinned to changed" in capsys.readouterr().out


def test_an_edited_function_names_the_rules_that_cite_it(tree: Path, capsys: Any) -> None:
    text = (tree / FILE).read_text(encoding="utf-8")
    text = text.replace("return 0;", "return 1;")  # a real change
    text = text.replace("/* nothing */", "/* still nothing, reworded */")  # not one
    (tree / FILE).write_text(text, encoding="utf-8")
    assert main(["stale", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "changed: fill_local_laminar_endp" in out
    assert "re-read model/fillers.py:" in out and "fill_local_laminar_endp" in out
    assert "not_cited_anywhere" not in out


def test_a_tree_without_the_pinned_files_is_an_input_error(tmp_path: Path, capsys: Any) -> None:
    assert main(["stale", str(tmp_path)]) == 2
    assert "none of the pinned files" in capsys.readouterr().err
