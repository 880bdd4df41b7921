"""Single-active-session leases (file and PostgreSQL backends)."""
