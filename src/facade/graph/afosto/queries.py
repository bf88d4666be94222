"""The Afosto API in the served schema: the root `afosto` field (its namespace of reads, one
field per service, generated) and the generated root mutations. What every resolver does is in
`calls.py`; the fields themselves in `generated/fields.py` (`facade afosto generate`).

Afosto decides who may do what (the caller's Afosto token, `X-Afosto-Authorization`), so the
root field and the mutations need nothing of facade's principal (`Need.PUBLIC`); facade's
argument rules and the query cost still apply.
"""

from __future__ import annotations

import strawberry

from facade.graph.afosto.generated.fields import AfostoMutations, AfostoNamespace
from facade.graph.afosto.generated.types import TYPES
from facade.graph.base import Info, Need, root_field

__all__ = ["TYPES", "AfostoMutations", "AfostoQueries"]


@strawberry.type
class AfostoQueries:
    @root_field(
        Need.PUBLIC,
        description="The Afosto API's reads, one field per service (`afosto { odr { order(id: ...) { ... } } }`); "
        "its writes are the root mutations named `afosto...`. Send your Afosto token as "
        "`X-Afosto-Authorization: Bearer ...`.",
    )
    def afosto(self, info: Info) -> AfostoNamespace:
        return AfostoNamespace()
