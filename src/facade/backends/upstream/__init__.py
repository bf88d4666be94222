"""Upstream clients: one folder per REST API (`flecs/`, `flow/`, `afosto/`), behind the same
interfaces as the local store, over a shared base at this level (`http.py`, `base.py`,
`fanout.py`, `payloads.py`); no API folder imports another."""
