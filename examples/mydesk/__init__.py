"""A user's own strategy package, written the way a trading desk would write one.

It uses only the public ``livesession`` API. The tests and the docs run it: see
``examples/mydesk.toml`` and docs/testing.md.
"""
