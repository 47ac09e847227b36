"""The regression gate: per-tensor error profiles, baselines (save, load), the comparison of two
profiles that `check` and `diff` share, and its JUnit, markdown and JSON forms."""
