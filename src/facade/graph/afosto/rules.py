"""The rules (`@constraint`, graph/inputs.py) of the generated Afosto arguments and input fields,
and the longest values (graph/sizes.py) of its answers' text, by leaf type.

The Afosto documentation states no lengths or ranges, so every rule here is a stated default,
chosen to hold what its examples show with room to spare, and to keep a request's cost bounded:
text 1,000 characters, ids 200, free-form JSON 64 kB of its encoding, lists 1,000 items, numbers
within 32 bits (GraphQL's Int; a Float argument's range too, which covers every amount in cents
the examples show). Int64 arguments are bounded by their scalar. An idempotency key (the
x-idempotency-key header) is not a default of its own: it is the hand-modelled order mutations'
rule (graph/inputs.IDEMPOTENCY_KEY), one key on every road. Change a default here and run
`facade afosto generate`: the generated modules name these constants, not their values.

Imports graph/inputs.py only.
"""

from __future__ import annotations

from facade.graph.inputs import IDEMPOTENCY_KEY, Constraint

__all__ = [
    "AFTER",
    "FIRST",
    "ID",
    "ID_CHARS",
    "IDEMPOTENCY_KEY",
    "ITEMS",
    "JSON",
    "JSON_CHARS",
    "NUMBER",
    "TEXT",
    "TEXT_CHARS",
]

TEXT_CHARS = 1_000
ID_CHARS = 200
JSON_CHARS = 65_536
MAX_ITEMS = 1_000
INT32 = 2**31

TEXT = Constraint(max_length=TEXT_CHARS, max_items=MAX_ITEMS, multiline=True)
ID = Constraint(max_length=ID_CHARS, max_items=MAX_ITEMS)
JSON = Constraint(max_length=JSON_CHARS, max_items=MAX_ITEMS)
NUMBER = Constraint(min=-INT32, max=INT32 - 1, max_items=MAX_ITEMS)
ITEMS = Constraint(max_items=MAX_ITEMS)  # a list of input objects, enums or flags
# Afosto pages by number (x-page) and size (x-page-size, 25 by default).
DEFAULT_PAGE_SIZE = 25
FIRST = Constraint(min=1, max=100)
AFTER = Constraint(max_length=64)
