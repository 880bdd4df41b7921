"""The session: a coordinator that keeps the step order, and the collaborators it drives.

``coordinator`` (the public ``LiveSessionOrchestrator``), ``assembly`` (the one construction
path and the defaults), ``timekeeper``, ``lifecycle``, ``preflight``, ``execution``,
``reports``, ``exits``, ``winddown``, ``reconciliation``, ``lease_keeper``, ``checkpoint``
and ``book``.
"""
