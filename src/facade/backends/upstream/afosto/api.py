"""The Afosto API client (`FACADE_AFOSTO_URL`): its two domain parts over one pooled client.

- `afosto`: the generated namespace's one generic call (`client.AfostoOperations`), every
  operation of the generated table;
- `commerce`: the hand-modelled commerce data of the domain graph (`commerce.AfostoCommerce`,
  the `CommerceBackend` of upstream mode).

Imports the two parts and the upstream base.
"""

from __future__ import annotations

from facade.backends.upstream.afosto.client import AfostoOperations, AfostoPolicy, ServiceAccount
from facade.backends.upstream.afosto.commerce import AfostoCommerce, TenantChecks
from facade.backends.upstream.base import ApiClient
from facade.backends.upstream.http import UpstreamClient

__all__ = ["AfostoApi"]


class AfostoApi(ApiClient):
    """The Afosto API: the generic call (`afosto`) and the commerce reads and writes
    (`commerce`), sharing the pooled client, the service account and the request's scope.
    `batch_size` is FACADE_AFOSTO_BATCH_SIZE, `concurrency` FACADE_UPSTREAM_CONCURRENCY."""

    policy = AfostoPolicy()

    afosto: AfostoOperations
    commerce: AfostoCommerce

    def __init__(
        self,
        client: UpstreamClient,
        account: ServiceAccount | None = None,
        *,
        batch_size: int = 100,
        concurrency: int = 16,
        checks: TenantChecks | None = None,
    ) -> None:
        super().__init__(client)
        self.afosto = AfostoOperations(client, account)
        self.commerce = AfostoCommerce(client, account, batch_size=batch_size, concurrency=concurrency, checks=checks)
