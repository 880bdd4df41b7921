"""A run's artifacts: written, and read back leniently for the tools.

The recorder, the audit chain, the sinks, metrics, timings and alerts write them;
``runread`` (with ``fills`` and ``marks``) reads a finished run for the tools; ``names``
names every file once.
"""
