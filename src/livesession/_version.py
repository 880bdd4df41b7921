"""The package version (single source for hatchling and the artifacts)."""

__version__ = "0.2.0"
