"""Risk rules: preflight checks, the pre-trade safety rails, and the trading state they read."""
