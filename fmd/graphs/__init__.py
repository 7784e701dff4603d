"""Custom graphs: schedules, the per-app registry and the per-process runner (see fmd.graphs.registry)."""
