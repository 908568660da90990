"""Named invariants over the model state, each citing the kernel code it is
about (issue 5: P1-P6 per netns; issue 6: per-connection and mixed flags)."""
