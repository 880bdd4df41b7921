"""Market input and decisions: feeds and strategies."""
