"""The reconciler: book against venue, what to resolve and what to escalate."""
