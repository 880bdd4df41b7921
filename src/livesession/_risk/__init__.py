"""Risk rules: safety rails, preflight checks."""
