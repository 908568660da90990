"""Counterexample traces and their renderings (issue 7). A trace is a
scenario too: every counterexample replays with `pmcheck diff`."""
