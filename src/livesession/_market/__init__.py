"""Market input and decisions: the feeds, the data files they read, and the demo strategy."""
