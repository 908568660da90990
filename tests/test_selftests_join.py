"""mptcp_join.sh on the model: the selftests oracle's deterministic v6.18 cases.

tests/selftests_join.py translates each case to a one-host scenario (our
host = ns2, the client; ns1 = the peer's verbs) and says how each asserted
counter is measured on the model; the cases it cannot express carry a
reason. Every translated case runs on the 6.18-stable model and must meet
the oracle's numbers. A case where the model genuinely disagrees would be
listed in XFAIL (strict) with the reason; there is none.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import pytest

from tests import selftests_join as sj

# The oracle is vendored (tests/data/): a missing file fails collection.
CASES = sj.load_cases()
TRANSLATED, UNTRANSLATED = sj.split(CASES)
BY_ID = {t.case_id: t for t in TRANSLATED}

# case id -> why the model and the kernel's selftest disagree (none so far).
XFAIL: dict[str, str] = {}

REASONS = {sj.R_SERVER_JOINS, sj.R_USERSPACE, sj.R_LINK_LOCAL, sj.R_ROUTE, sj.R_LISTENER}


@cache
def resolved(case_id: str) -> sj.Resolved:
    return sj.resolve(BY_ID[case_id])


def _param(t: sj.Translation) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=XFAIL[t.case_id])] if t.case_id in XFAIL else []
    return pytest.param(t.case_id, id=t.case_id, marks=marks)


@pytest.mark.parametrize("case_id", [_param(t) for t in TRANSLATED])
def test_case_meets_the_oracle(case_id: str) -> None:
    res = resolved(case_id)
    bad = sj.mismatches(res)
    assert not bad, "\n".join([f"{case_id} disagrees with the oracle:", *bad, "", res.text])


def test_every_deterministic_v618_case_is_accounted_for_once() -> None:
    data = json.loads(sj.oracle_path().read_text(encoding="utf-8"))
    wanted = [c["id"] for c in data["cases"] if c["deterministic"] and "v6.18" in c["present_in"]]
    seen = Counter([t.case_id for t in TRANSLATED] + [u.case_id for u in UNTRANSLATED])
    assert len(wanted) == len(set(wanted)) == 111
    assert [i for i, n in seen.items() if n > 1] == []
    assert set(seen) == set(wanted)
    assert len(TRANSLATED) + len(UNTRANSLATED) == len(wanted)


def test_untranslated_cases_have_a_known_reason() -> None:
    assert all(u.reason in REASONS and u.detail for u in UNTRANSLATED)
    assert set(XFAIL) <= set(BY_ID)


def test_every_translated_case_asserts_something_on_the_model() -> None:
    """No empty test: each translation checks the join counters, or (implicit
    EP, which asserts none) per-step checks; never only translation checks."""
    for t in TRANSLATED:
        assert any(e.name.startswith(("join.", "step ")) for e in t.expect), t.case_id


def test_examples_are_current() -> None:
    """examples/selftests/ holds the translated scenarios (for `pmcheck diff`);
    regenerate with `python -m tests.selftests_join`."""
    stale = [
        t.case_id
        for t in TRANSLATED
        if not sj.example_path(t.case_id).is_file()
        or sj.example_path(t.case_id).read_text(encoding="utf-8") != resolved(t.case_id).text
    ]
    assert stale == [], "run `python -m tests.selftests_join` to regenerate"
