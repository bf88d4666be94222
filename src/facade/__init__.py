"""facade: one typed GraphQL graph in front of the FLECS Console, Flow Retail and Afosto REST APIs."""

from __future__ import annotations

__version__ = "0.1.0"
