"""The live gate: under PMCHECK_REQUIRE_LIVE=1 a skipped live test fails."""

from __future__ import annotations

import pytest

from tests.live import REQUIRE_ENV

CONFTEST = "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
TESTS = """
import pytest

@pytest.mark.live
def test_live():
    pytest.skip("no kernel here")

def test_other():
    pytest.skip("not live")
"""


@pytest.mark.parametrize(("required", "failed", "skipped"), [("1", 1, 1), ("", 0, 2)])
def test_a_skipped_live_test_fails_only_when_live_is_required(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    required: str,
    failed: int,
    skipped: int,
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, required)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    live: real kernel\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_inprocess("-q")
    result.assert_outcomes(failed=failed, skipped=skipped)
    if failed:
        result.stdout.fnmatch_lines([f"*live test skipped under {REQUIRE_ENV}=1*"])
