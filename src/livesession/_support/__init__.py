"""Plumbing with no domain knowledge: atomic files, crash points, redaction, logs."""
