"""Afosto's commerce data in the domain graph (issue 11): sales channels, price groups and prices,
stock locations and levels, customers, orders and their lines, print hubs and printers, the
Afosto tenant's users, plan and tasks; the edges from facade's stores, products, devices and
tenants into them through the join keys (the local store's link tables); and the mutations that
write Afosto's data and manage the join keys.

`types.py` holds the types and their edges (declared as data, like every other edge), `mutations.py`
the writes. The generated Afosto namespace (graph/afosto/) is the API as Afosto shapes it; this
is Afosto's data as facade's graph shapes it.
"""

from __future__ import annotations

from facade.graph.commerce.mutations import CommerceMutations
from facade.graph.commerce.types import CommerceQueries

__all__ = ["CommerceMutations", "CommerceQueries"]
