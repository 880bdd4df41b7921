"""The session: the coordinator and its collaborators."""
