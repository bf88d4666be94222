"""The schema: the root Query and Mutation composed from each domain's mixins, with documents
parsed, checked against the limits and validated once (documents repeat; see
research/perf-baseline.md and graph/documents.py) and error codes applied."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from facade.graph.afosto.queries import TYPES, AfostoMutations, AfostoQueries
from facade.graph.apps import AppMutations, AppQueries
from facade.graph.base import EDGE, HELD
from facade.graph.commerce import CommerceMutations, CommerceQueries
from facade.graph.devices import DeviceMutations, DeviceQueries
from facade.graph.documents import CheckedDocuments, DocumentCache
from facade.graph.extensions import ErrorCodes
from facade.graph.licenses import LicenseMutations, LicenseQueries
from facade.graph.limits import Limits
from facade.graph.nodes import NodeQueries
from facade.graph.permissions import unchecked_fields
from facade.graph.products import ProductQueries
from facade.graph.reviews import ReviewMutations
from facade.graph.scalars import SCALAR_MAP
from facade.graph.stores import StoreQueries
from facade.graph.tenants import TenantQueries
from facade.graph.users import UserMutations, UserQueries
from facade.settings import Settings


@strawberry.type(description="Everything a client can read.")
class Query(
    UserQueries,
    TenantQueries,
    StoreQueries,
    ProductQueries,
    DeviceQueries,
    LicenseQueries,
    AppQueries,
    NodeQueries,
    AfostoQueries,
    CommerceQueries,
):
    pass


@strawberry.type(description="Everything a client can change.")
class Mutation(
    UserMutations,
    ReviewMutations,
    DeviceMutations,
    LicenseMutations,
    AppMutations,
    AfostoMutations,
    CommerceMutations,
):
    pass


class FacadeSchema(strawberry.Schema):
    documents: DocumentCache  # the prepared documents both execution paths share

    def sdl(self) -> str:
        """The SDL as exported to schema/schema.graphql: an explicit `schema { query mutation }`
        block, then every type. GraphQL's printer leaves that block out when the root types have
        their default names, and tools then guess the roots from the names alone."""
        roots = {"query": self._schema.query_type, "mutation": self._schema.mutation_type}
        block = "".join(f"  {kind}: {root.name}\n" for kind, root in roots.items() if root is not None)
        return f"schema {{\n{block}}}\n\n{self.as_str()}\n"

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # ErrorCodes has logged what is unexpected; expected errors are answers, not incidents.
        return None


def _applies_rules(definition: Any) -> bool:
    metadata = getattr(definition, "metadata", None) or {}
    return EDGE in metadata or HELD in metadata


def build_schema(settings: Settings | None = None) -> FacadeSchema:
    """The schema with the limits and document cache of `settings` (the defaults without);
    TypeError if a field produces records under a record rule without applying it (a new edge
    written as a plain attribute would otherwise be a road around the rule)."""
    settings = settings or Settings.model_construct()
    built = FacadeSchema(
        query=Query,
        mutation=Mutation,
        types=TYPES,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[lambda: CheckedDocuments(built.documents), ErrorCodes],
    )
    unchecked = unchecked_fields(built._schema, _applies_rules)
    if unchecked:
        raise TypeError(f"these fields produce protected records without their rule: {', '.join(unchecked)}")
    built.documents = DocumentCache(built._schema, Limits.from_settings(settings), settings.document_cache_bytes)
    return built


schema: Any = None


def get_schema() -> FacadeSchema:
    """The process-wide schema (built once; it is immutable)."""
    global schema
    if schema is None:
        schema = build_schema()
    return schema  # type: ignore[no-any-return]
