"""`pmcheck ask` (every outcome of a question) and `pmcheck versions`:
args (the options), spec (the question language), problem, explicit and
symbolic (the two enumerations), projection, render, command."""
