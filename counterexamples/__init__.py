"""Counterexample traces and their renderings (issue 7). A trace is a
scenario too: every counterexample replays with `pmcheck replay` (model,
live kernel) and its scenario with `pmcheck diff`.

`trace` (the object, ITF I/O), `build` (from a checker path), `explain`
(the property's conjuncts on the violating state), `minimize` and `replay`
(concrete re-checks), `render` (text, md, json, scenario, sh), `confirm`
(replay on the model and the live kernel), `gallery`, `cli`.
See docs/counterexamples.md."""
