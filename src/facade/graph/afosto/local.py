"""Who an Afosto namespace call acts for in local mode (`FACADE_AFOSTO_URL=local`).

Upstream, Afosto judges the caller's Afosto token. In local mode the emulation answers from the
local store's Afosto tables, the same rows the domain graph guards (a customer, an order, a
channel), so facade judges, with the domain graph's rules for those rows: the caller must be
signed in as a person of a tenant linked to an Afosto tenant, and the call acts for that Afosto
tenant; a read needs a member, a write the tenant's admin. Whatever `X-Afosto-Authorization`
says does not decide (any text would otherwise have been the first seeded tenant).

May import the graph's permissions, the errors and the emulation's credentials.
"""

from __future__ import annotations

from typing import Any

from facade.backends.upstream.afosto.client import CREDENTIALS_HEADER
from facade.backends.upstream.afosto.emulated import credentials_for, tenant_of
from facade.backends.upstream.afosto.operation import Operation
from facade.commerce import AfostoTenant
from facade.errors import Forbidden, Unauthenticated
from facade.graph.permissions import is_admin, is_member

__all__ = ["local_credentials", "prove_afosto_account"]

# The client-credentials grant, which takes no token (openapi.TOKEN_OPERATION: that module imports
# the generator, which stays out of the app's import path).
TOKEN_OPERATION = "POST /iam/oauth/authorize"
_NO_PROOF = (
    "Linking an Afosto tenant needs an Afosto token of that tenant in X-Afosto-Authorization (in local "
    "mode, from afostoIamCreateOauthToken with the tenant's OAuth client)."
)


async def local_credentials(info: Any, operation: Operation) -> str | None:
    """`Authorization` for one local-mode call of `operation`, or None where the caller's own
    headers go (upstream mode; the client-credentials grant, which takes no token).

    Raises Unauthenticated (no valid facade token), Forbidden (a device token, no tenant, a
    tenant without an Afosto tenant, or a write by someone not its admin)."""
    context = info.context
    if context.settings.afosto_url != "local" or operation.key == TOKEN_OPERATION:
        return None
    principal = context.require_principal()
    tenant_id = principal.tenant_id
    if tenant_id is None or not is_member(principal, tenant_id):
        raise Forbidden("In local mode the Afosto API answers the people of a tenant linked to an Afosto tenant.")
    link = await context.loaders.afosto_tenant.load(tenant_id)
    if link is None:
        raise Forbidden("Your tenant has no Afosto tenant linked (linkAfostoTenant).")
    if not operation.read and not is_admin(principal, tenant_id):
        raise Forbidden("In local mode Afosto writes are for the tenant's admins.")
    return credentials_for(link.afosto_tenant_id)


async def prove_afosto_account(info: Any, tenant_uid: str, afosto_tenant_id: str) -> None:
    """That the caller holds the Afosto account `afosto_tenant_id` before facade links a tenant
    to it (a link opens that account's data to the tenant's people): an Afosto token of that
    Afosto tenant in `X-Afosto-Authorization`. Upstream, Afosto judges it (the tenant check,
    `GET /iam/tenants/{id}`, with the caller's token, or the service account's when the caller
    sends none); in local mode it must be a token the emulation's `POST /iam/oauth/authorize`
    handed out for that tenant's OAuth client.

    Raises Forbidden (no token, another tenant's, one the emulation did not issue, or Afosto's
    refusal, its 401 included), UpstreamError/UpstreamTimeout when Afosto cannot be asked."""
    context = info.context
    if context.settings.afosto_url == "local":
        request = context.request
        header = request.headers.get(CREDENTIALS_HEADER) if request is not None else None
        if tenant_of(header) != afosto_tenant_id:
            raise Forbidden(_NO_PROOF, field="afostoTenantId")
        return
    link = AfostoTenant(tenant_uid, afosto_tenant_id)
    answer = (await context.backend.commerce.price_groups([link])).get(link)
    if isinstance(answer, Unauthenticated):  # no Afosto credentials: no proof, as in local mode
        raise Forbidden(_NO_PROOF, field="afostoTenantId")
    if isinstance(answer, Exception):
        raise answer
