"""The pmcheck model: per-netns (and later per-connection) PM state and rules.

Every rule is written once against the `Ops` interface (backend.py) and runs
on two backends: `ConcreteOps` (plain ints and bools: simulate, replay) and
`Z3Ops` (Z3 terms: check). Rules never branch with Python `if` on state.
"""
