"""pmcheck: a formal model and model checker for the Linux MPTCP in-kernel path manager."""

__version__ = "0.1.0"
