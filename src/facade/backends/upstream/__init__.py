"""Upstream clients: one per REST API (FLECS Console, Flow Retail), behind the same interfaces as
the local store, over one shared HTTP layer (`http.py`)."""
