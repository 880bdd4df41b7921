"""The session: a coordinator that keeps the step order, and the collaborators it drives.

``coordinator`` (the public ``LiveSessionOrchestrator``), ``assembly`` (the one
construction path and the defaults; ``edges``: what a caller may inject, an edge of the
wrong kind refused), ``context`` (what every collaborator works with), ``pipeline`` (one
step, in order; ``conflicts``: what an idempotency conflict there means), ``threads``
(the owner thread and the session lock; ``interrupts``: Ctrl-C and SIGTERM in bulk runs;
``torn``: what a torn session says) and ``verbs`` (the operator verbs; ``outcomes``: what a
verb answers; ``heldstop``: a stop left STOPPING before its wind-down, for the evidence
re-run). The collaborators: ``timekeeper``,
``lifecycle``, ``preflight``, ``execution`` (``cancels``: a strategy's cancel of its own
order; ``resends``: whether a failed send goes again), ``reports`` (``crossing``:
reduce-only fills that added exposure), ``exits``, ``winddown``, ``reconciliation``,
``lease_keeper``, ``checkpoint`` (``plugstate``: a plug-in's state as it takes it;
``stateorder``: the order of its dicts' keys, which the sorted checkpoint loses),
``broker_health`` and ``closing`` (what a session lets go of as it ends). The book:
``book``, ``openorders`` (its open orders, with the sums the rails ask for kept) and
``strategy_view`` (the strategy's read-only window on it). What a session reports:
``results``. Plug-ins held to their contracts: ``plugins`` (those a config
names), ``feedsetup`` (the feed a config names), ``answers`` (a plug-in's answers checked),
``broker_guard`` (a broker of the caller's) and ``desk`` (a desk's own rails and checks).
The orders a crashed process sent after its checkpoint: ``aftercheckpoint``.
"""
