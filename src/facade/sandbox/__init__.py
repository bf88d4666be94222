"""The sandbox: the FLECS Console and Flow Retail REST APIs, answered from a local store, and the
Afosto API under `/afosto`, emulated from its contract, with injectable faults, so facade's
upstream clients meet real HTTP in development and tests.

    facade sandbox [--host 127.0.0.1] [--port 8100] [--database-url URL] [--seed-products N] [--faults SPEC]

The sandbox is a top of its own, beside the app: it imports the local store, auth, models and
settings (and the Afosto contract package), and nothing imports it but the CLI and tests.
"""

from __future__ import annotations

from facade.sandbox.app import create_sandbox_app
from facade.sandbox.faults import CallLog, FaultRule, Faults, FaultSpecError, parse_faults

__all__ = ["CallLog", "FaultRule", "FaultSpecError", "Faults", "create_sandbox_app", "parse_faults"]
