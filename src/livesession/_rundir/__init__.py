"""Run directories: layout, creation and resume."""
