"""The model checker: transition system, engines, verdicts."""
