"""Upstream routing: which API answers which interface method in upstream mode, one table.

`ROUTES` is the single source: each `Route` names a domain of `interfaces.Backend`, a method of
that domain's interface, the API whose client answers it, and the contract operations that
method calls. An interface method without a route is answered by the local store in upstream
mode too. `compose()` checks the table before it builds anything (`check`), and the README's
"Operation coverage" section is `coverage()` of it (`facade routes`; a test holds the README
to it), so the table, the clients and the README cannot disagree.

    RouteError     a route names a domain, method, API or operation that does not exist, an
                   interface method is routed twice, or a client method is routed nowhere

May import interfaces; the clients are handed to `check` (compose.py), not imported here.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from facade.backends.interfaces import Backend
from facade.backends.upstream.afosto.generated.operations import OPERATIONS as AFOSTO_OPERATIONS

__all__ = ["AFOSTO", "CONTRACTS", "FLECS", "FLOW", "ROUTES", "Contract", "Route", "RouteError", "check", "coverage"]

FLECS = "FLECS Console"
FLOW = "Flow Retail"
AFOSTO = "Afosto"


class RouteError(Exception):
    """The routing table disagrees with the interfaces, the clients or the contracts (at start-up)."""


@dataclass(frozen=True, slots=True)
class Contract:
    """An API's contract: its title in the README, where it is written down, its operations."""

    title: str
    source: str
    operations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """`domain.method` of the Backend interface, answered by `api`'s client, which calls the
    contract `operations`; `graphql` and `tests` are for the README (what reaches the method,
    and the GraphQL tests that prove it in both modes)."""

    domain: str
    method: str
    api: str
    operations: tuple[str, ...]
    graphql: str = ""
    tests: tuple[str, ...] = ()


CONTRACTS: Mapping[str, Contract] = {
    FLECS: Contract(
        "FLECS Console API v2",
        "`contracts/flecs-console.openapi.yaml`",
        (
            "POST /api/v2/auth/login",
            "POST /api/v2/auth/validate",
            "POST /api/v2/device/license/activate",
            "POST /api/v2/device/license/validate",
            "POST /api/v2/device/license",
            "GET /api/v2/manifests/{app}/{version}",
            "POST /api/v2/tokens",
            "GET /api/v2/products",
            "GET /api/v2/products/apps",
            "POST /api/v2/products/apps/reviews",
            "GET /api/v2/my/products",
            "GET /api/v2/my/products/apps",
            "GET /api/v2/my/subscriptions",
        ),
    ),
    FLOW: Contract(
        "Flow Retail Device API v2",
        "`contracts/flow-retail-devices.md` (paths of F6-F12 inferred there)",
        (
            "F0 POST /account",
            "F1 GET /device",
            "F2 POST /device",
            "F3 PUT /device",
            "F4 POST /device/authorize",
            "F5 POST /device/{deviceCode}/link",
            "F6 GET /device/users",
            "F7 GET /tenants/{tenantUid}/devices",
            "F8 POST /tenants/{tenantUid}/devices",
            "F9 POST /tenants/{tenantUid}/devices/search",
            "F10 GET /tenants/{tenantUid}/devices/{deviceUid}",
            "F11 PUT /tenants/{tenantUid}/devices/{deviceUid}",
            "F12 DELETE /tenants/{tenantUid}/devices/{deviceUid}",
        ),
    ),
    # Generated: the operations are the generated table's (`facade afosto generate`).
    AFOSTO: Contract(
        "Afosto API",
        "`backends/upstream/afosto/contract/` (a copy of `contracts/afosto/`), generated into "
        "`backends/upstream/afosto/generated/operations.py`",
        tuple(op.key for op in AFOSTO_OPERATIONS),
    ),
}

ROUTES: tuple[Route, ...] = (
    # FLECS Console (tests in tests/graph/test_flecs_operations.py)
    Route(
        "users",
        "login",
        FLECS,
        ("POST /api/v2/auth/login",),
        "`mutation login`",
        (
            "test_login_returns_a_token_its_expiry_the_user_and_feature_flags",
            "test_wrong_password_and_unknown_user_get_the_same_unauthenticated_error",
        ),
    ),
    Route(
        "users",
        "validate_token",
        FLECS,
        ("POST /api/v2/auth/validate",),
        "`query validateToken`; the check of a request's FLECS token (kept for its life)",
        (
            "test_validate_token_accepts_a_fresh_token",
            "test_validate_token_rejects_garbage_and_foreign_tokens",
            "test_a_token_is_validated_once_then_kept_for_its_life",
        ),
    ),
    Route(
        "licenses",
        "activate",
        FLECS,
        ("POST /api/v2/device/license/activate",),
        "`mutation activateLicense` (`alreadyActive: true` is the 204)",
        (
            "test_activate_by_license_key_starts_a_new_session",
            "test_the_same_session_again_is_already_active",
            "test_activate_with_only_authorization_uses_the_users_free_license",
            "test_key_already_active_elsewhere_is_forbidden",
        ),
    ),
    Route(
        "licenses",
        "validate",
        FLECS,
        ("POST /api/v2/device/license/validate",),
        "`query validateLicense`",
        (
            "test_validate_license_is_true_for_an_active_session",
            "test_validate_license_is_false_for_an_unknown_session",
        ),
    ),
    Route(
        "licenses",
        "register_device",
        FLECS,
        ("POST /api/v2/device/license",),
        "`mutation registerDeviceLicense`",
        (
            "test_register_device_license_returns_the_device_with_its_license",
            "test_future_manufacture_date_is_bad_user_input_and_writes_nothing",
        ),
    ),
    Route(
        "apps",
        "download_manifest",
        FLECS,
        ("GET /api/v2/manifests/{app}/{version}",),
        "`query appManifest(manifestVersion, maxManifestVersion)`",
        ("test_app_manifest_picks_the_schema_version", "test_downloaded_manifest_is_a_valid_flecs_app_manifest"),
    ),
    Route(
        "apps",
        "create_token",
        FLECS,
        ("POST /api/v2/tokens",),
        "`mutation createDownloadToken` (`token: null` is the 204)",
        ("test_download_token_for_an_official_app_has_credentials", "test_unofficial_app_gets_no_download_token"),
    ),
    Route(
        "products",
        "page_all",
        FLECS,
        ("GET /api/v2/products", "GET /api/v2/products/apps"),
        "`query products(storeId)`, `query apps(storeId)`",
        ("test_apps_without_a_store_are_every_app",),
    ),
    Route(
        "products",
        "page_by_store",
        FLECS,
        ("GET /api/v2/products", "GET /api/v2/products/apps"),
        "`Store.products`, `Store.apps`",
        ("test_products_of_a_store_are_all_and_only_that_stores", "test_apps_of_a_store_are_its_app_products_only"),
    ),
    Route(
        "reviews",
        "create",
        FLECS,
        ("POST /api/v2/products/apps/reviews",),
        "`mutation postReview`",
        (
            "test_posted_review_updates_the_products_rating",
            "test_rating_outside_one_to_five_is_bad_user_input_and_writes_nothing",
        ),
    ),
    Route(
        "products",
        "page_purchased",
        FLECS,
        ("GET /api/v2/my/products", "GET /api/v2/my/products/apps"),
        "`viewer { purchasedProducts(storeId) purchasedApps(storeId) }`",
        (
            "test_purchased_products_are_exactly_the_subscriptions_line_items",
            "test_purchased_products_of_one_store",
        ),
    ),
    Route(
        "subscriptions",
        "page_by_user",
        FLECS,
        ("GET /api/v2/my/subscriptions",),
        "`viewer { subscriptions(storeId) }`",
        ("test_purchased_products_are_exactly_the_subscriptions_line_items",),
    ),
    # Flow Retail, F0-F12 (tests in tests/graph/test_flow_devices.py)
    Route(
        "devices",
        "login",
        FLOW,
        ("F0 POST /account",),
        "`mutation deviceLogin`",
        ("test_device_login_returns_an_access_token_and_the_tenant_user",),
    ),
    Route(
        "devices",
        "current",
        FLOW,
        ("F1 GET /device",),
        "`query currentDevice`; the check of a request's accessToken",
        (
            "test_current_device_has_the_store_till_and_tenant",
            "test_sign_in_own_data_tenant_admin_device_link_and_access_work_with_different_secrets",
        ),
    ),
    Route(
        "devices",
        "register",
        FLOW,
        ("F2 POST /device",),
        "`mutation registerDevice`",
        ("test_register_device_returns_a_code_to_authorize_it",),
    ),
    Route(
        "devices",
        "update_system_information",
        FLOW,
        ("F3 PUT /device", "F1 GET /device"),
        "`mutation updateDeviceSystemInformation`",
        ("test_updated_system_information_shows_in_current_device_and_device",),
    ),
    Route(
        "devices",
        "authorize",
        FLOW,
        ("F4 POST /device/authorize", "F9 POST /tenants/{tenantUid}/devices/search"),
        "`mutation authorizeDevice`",
        ("test_authorize_device_attaches_it_to_the_store_and_till",),
    ),
    Route(
        "devices",
        "link",
        FLOW,
        ("F5 POST /device/{deviceCode}/link",),
        "`mutation linkDevice`",
        ("test_link_device_returns_a_device_token_and_activates_the_device",),
    ),
    Route(
        "devices",
        "users",
        FLOW,
        ("F6 GET /device/users",),
        "`query deviceUsers`; the check of a request's deviceToken",
        (
            "test_device_users_are_the_users_with_access_to_the_device_store",
            "test_device_users_page_with_cursors",
        ),
    ),
    Route(
        "devices",
        "search",
        FLOW,
        ("F7 GET /tenants/{tenantUid}/devices", "F9 POST /tenants/{tenantUid}/devices/search"),
        "`query devices(tenantUid, storeUid)`, `query searchDevices(filter)`, `Tenant.devices`",
        (
            "test_devices_page_through_every_device_once",
            "test_devices_of_a_store_are_only_that_stores",
            "test_search_devices_filter_narrows_to_the_matching_devices",
        ),
    ),
    Route(
        "devices",
        "create",
        FLOW,
        ("F8 POST /tenants/{tenantUid}/devices",),
        "`mutation createDevice`",
        ("test_create_device_is_ready_to_link_with_a_device_code",),
    ),
    Route(
        "devices",
        "get",
        FLOW,
        ("F10 GET /tenants/{tenantUid}/devices/{deviceUid}",),
        "`query device(tenantUid, deviceUid)`",
        ("test_device_returns_the_device",),
    ),
    Route(
        "devices",
        "update",
        FLOW,
        ("F11 PUT /tenants/{tenantUid}/devices/{deviceUid}",),
        "`mutation updateDevice(changes)`",
        ("test_update_device_changes_persist", "test_a_blocked_device_cannot_sign_users_in"),
    ),
    Route(
        "devices",
        "delete",
        FLOW,
        ("F12 DELETE /tenants/{tenantUid}/devices/{deviceUid}",),
        "`mutation deleteDevice`",
        ("test_delete_device_removes_it",),
    ),
    # Afosto: a generated API is one route, its one generic call naming every operation of the
    # generated table; the check still holds the table to the interface, the client and the
    # contract, and each generated GraphQL field to an operation (tests/graph/test_afosto.py).
    Route(
        "afosto",
        "call",
        AFOSTO,
        tuple(op.key for op in AFOSTO_OPERATIONS),
        "`afosto { <service> { <read> } }`, `mutation afosto<Service><Write>` (generated)",
        (
            "test_a_read_answers_the_generated_record",
            "test_a_paged_list_is_a_connection_over_two_pages",
            "test_an_asynchronous_write_answers_an_ack_with_its_task",
            "test_an_afosto_refusal_is_its_code",
            "test_every_generated_read_and_collection_write_answers_typed_without_error",
        ),
    ),
    # Afosto's commerce data, hand-modelled (tests in tests/backends/upstream/test_afosto_commerce.py): each
    # method one Afosto operation (plus the once-per-request tenant check, GET /iam/tenants/{id}).
    # In local mode the domain reads the store's tables (compose.py drops these routes there).
    Route(
        "commerce",
        "channels",
        AFOSTO,
        ("GET /cat/channels", "GET /iam/tenants/{id}"),
        "`Store.salesChannels`, `Order.channel`, `Tenant.afosto.salesChannels`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "locations",
        AFOSTO,
        ("GET /wms/locations", "GET /iam/tenants/{id}"),
        "`Store.stockLocation`, `StockLevel.location`, `Tenant.afosto.locations`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "price_groups",
        AFOSTO,
        ("GET /cat/groups", "GET /iam/tenants/{id}"),
        "`Price.priceGroup`, `Tenant.afosto.priceGroups`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "users",
        AFOSTO,
        ("GET /iam/users", "GET /iam/tenants/{id}"),
        "`Tenant.afosto.users`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "plans",
        AFOSTO,
        ("GET /iam/subscriptions", "GET /iam/tenants/{id}"),
        "`Tenant.afosto.plans`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "print_hubs",
        AFOSTO,
        ("GET /spl/hubs", "GET /iam/tenants/{id}"),
        "`Device.printHub`, `Tenant.afosto.printHubs`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "printers",
        AFOSTO,
        ("GET /spl/printers", "GET /iam/tenants/{id}"),
        "`PrintHub.printers`",
        ("test_load_all_lists_are_one_call_per_request_whatever_asks_for_them",),
    ),
    Route(
        "commerce",
        "prices",
        AFOSTO,
        ("POST /cat/groups/{id}/prices", "GET /cat/groups", "GET /iam/tenants/{id}"),
        "`Product.prices(priceGroup, activeAt)`",
        ("test_prices_of_many_skus_are_one_search", "test_keys_past_the_batch_size_are_chunked"),
    ),
    Route(
        "commerce",
        "stock_by_location",
        AFOSTO,
        ("POST /wms/inventory", "GET /iam/tenants/{id}"),
        "`Store.stock`, `Location.stock`",
        ("test_stock_by_location_and_by_sku_are_one_search_each",),
    ),
    Route(
        "commerce",
        "stock_by_sku",
        AFOSTO,
        ("POST /wms/inventory", "GET /iam/tenants/{id}"),
        "`Product.stock`, `OrderLine.stock`",
        ("test_stock_by_location_and_by_sku_are_one_search_each",),
    ),
    Route(
        "commerce",
        "orders",
        AFOSTO,
        ("POST /odr/search/orders", "GET /iam/tenants/{id}"),
        "`OrderLine.order`, `node(id:)` of an order",
        ("test_orders_lines_customers_and_addresses_are_one_search_each",),
    ),
    Route(
        "commerce",
        "order_page",
        AFOSTO,
        ("GET /odr/orders", "GET /iam/tenants/{id}"),
        "`Tenant.afosto.orders(number, first, after)`",
        ("test_a_page_of_orders_is_afostos_page_of_that_size",),
    ),
    Route(
        "commerce",
        "order_lines",
        AFOSTO,
        ("POST /odr/search/orders/items", "GET /iam/tenants/{id}"),
        "`Order.lines`",
        ("test_orders_lines_customers_and_addresses_are_one_search_each",),
    ),
    Route(
        "commerce",
        "order_lines_by_sku",
        AFOSTO,
        ("POST /odr/search/orders/items", "GET /iam/tenants/{id}"),
        "`Product.orderLines`",
        ("test_orders_lines_customers_and_addresses_are_one_search_each",),
    ),
    Route(
        "commerce",
        "customers",
        AFOSTO,
        ("POST /rel/contacts", "GET /iam/tenants/{id}"),
        "`Order.customer`",
        ("test_orders_lines_customers_and_addresses_are_one_search_each",),
    ),
    Route(
        "commerce",
        "addresses",
        AFOSTO,
        ("POST /rel/search/address", "GET /iam/tenants/{id}"),
        "`Order.shippingAddress`, `Order.billingAddress`, `Location.address`",
        ("test_orders_lines_customers_and_addresses_are_one_search_each",),
    ),
    Route(
        "commerce",
        "hub_status",
        AFOSTO,
        ("GET /spl/hubs/{id}/status", "GET /iam/tenants/{id}"),
        "`PrintHub.status` (one call per hub, concurrently)",
        ("test_hub_status_is_one_call_per_hub",),
    ),
    Route(
        "commerce",
        "tasks",
        AFOSTO,
        ("GET /mes/tasks/{id}", "GET /iam/tenants/{id}"),
        "`afostoTask(tenantUid, id)`, `node(id:)` of a task",
        ("test_cancel_order_answers_its_task_and_the_task_polls",),
    ),
    Route(
        "commerce",
        "upsert_prices",
        AFOSTO,
        ("PUT /cat/groups/{id}/prices", "POST /cat/groups/{id}/prices", "GET /iam/tenants/{id}"),
        "`mutation upsertPrices`",
        ("test_a_price_set_through_the_client_is_read_through_the_generated_operation_and_back",),
    ),
    Route(
        "commerce",
        "set_stock",
        AFOSTO,
        ("PUT /wms/inventory", "GET /iam/tenants/{id}"),
        "`mutation setStock`",
        ("test_set_stock_answers_the_new_levels_and_reads_back",),
    ),
    Route(
        "commerce",
        "create_channel",
        AFOSTO,
        ("POST /cat/channels", "GET /iam/tenants/{id}"),
        "`mutation createSalesChannel`",
        ("test_a_created_channel_is_updated_and_listed",),
    ),
    Route(
        "commerce",
        "update_channel",
        AFOSTO,
        ("PUT /cat/channels/{id}", "GET /iam/tenants/{id}"),
        "`mutation updateSalesChannel`",
        ("test_a_created_channel_is_updated_and_listed",),
    ),
    Route(
        "commerce",
        "create_order",
        AFOSTO,
        ("POST /odr/orders", "POST /odr/orders/{id}/items", "POST /odr/search/orders", "GET /iam/tenants/{id}"),
        "`mutation createOrder(idempotencyKey)`",
        ("test_create_order_twice_with_one_key_is_one_order",),
    ),
    Route(
        "commerce",
        "add_order_lines",
        AFOSTO,
        ("POST /odr/orders/{id}/items", "POST /odr/search/orders", "GET /iam/tenants/{id}"),
        "`mutation addOrderLines(idempotencyKey)`",
        (
            "test_create_order_twice_with_one_key_is_one_order",
            "test_lines_added_with_a_key_are_added_once_however_often_they_are_sent",
        ),
    ),
    Route(
        "commerce",
        "cancel_order",
        AFOSTO,
        ("POST /odr/orders/{id}/cancel", "GET /mes/tasks/{id}", "GET /iam/tenants/{id}"),
        "`mutation cancelOrder` (an `AfostoTask`)",
        ("test_cancel_order_answers_its_task_and_the_task_polls",),
    ),
)


def domains(backend: type = Backend) -> dict[str, type]:
    """The interface of each domain of `backend` (a Protocol with one property per domain)."""
    found: dict[str, type] = {}
    for name, member in vars(backend).items():
        if isinstance(member, property) and member.fget is not None:
            found[name] = typing.get_type_hints(member.fget)["return"]
    return found


def operations_of(cls: type) -> list[str]:
    """The operations a domain's interface or client part offers: its public async methods
    (inherited ones too; helpers are private or synchronous)."""
    return sorted(
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    )


def parts_of(client: type) -> dict[str, type]:
    """The domain parts an API client class declares (class annotations such as
    `devices: FlowDevices`), by domain."""
    hints = typing.get_type_hints(client)
    return {name: hint for name, hint in hints.items() if isinstance(hint, type) and not name.startswith("_")}


def check(
    routes: Iterable[Route],
    clients: Mapping[str, type],
    *,
    backend: type = Backend,
    contracts: Mapping[str, Contract] = CONTRACTS,
) -> None:
    """Raises RouteError naming every disagreement of `routes` with the `backend` interface, the
    API `clients` (classes, by API name) and the `contracts`; returns None when there is none."""
    interfaces = domains(backend)
    problems: list[str] = []
    routed: dict[tuple[str, str], str] = {}
    for route in routes:
        where = f"route {route.domain}.{route.method} -> {route.api}"
        interface = interfaces.get(route.domain)
        if interface is None:
            problems.append(f"{where}: the Backend interface has no domain {route.domain!r}")
        elif route.method not in operations_of(interface):
            problems.append(f"{where}: {interface.__name__} has no method {route.method!r}")
        client = clients.get(route.api)
        part = parts_of(client).get(route.domain) if client is not None else None
        if client is None:
            problems.append(f"{where}: no client for the API {route.api!r}")
        elif part is None or route.method not in operations_of(part):
            problems.append(f"{where}: the {route.api} client has no {route.domain}.{route.method}")
        key = (route.domain, route.method)
        if key in routed:
            problems.append(f"{where}: {route.domain}.{route.method} is already routed to {routed[key]}")
        else:
            routed[key] = route.api
        contract = contracts.get(route.api)
        if not route.operations:
            problems.append(f"{where}: names no contract operation")
        for operation in route.operations:
            if contract is None or operation not in contract.operations:
                problems.append(f"{where}: {operation!r} is not an operation of the {route.api} contract")
    for api, client in clients.items():
        for domain, part in parts_of(client).items():
            for method in operations_of(part):
                elsewhere = routed.get((domain, method))
                if elsewhere is None:
                    problems.append(f"{api} client: {domain}.{method} is routed nowhere (route it or remove it)")
                elif elsewhere != api:
                    problems.append(f"{api} client: {domain}.{method} is routed to {elsewhere} (remove it here)")
    if problems:
        raise RouteError("The upstream routing table is inconsistent:\n- " + "\n- ".join(problems))


def coverage(routes: Iterable[Route], *, backend: type = Backend, contracts: Mapping[str, Contract] = CONTRACTS) -> str:
    """The README's coverage tables (Markdown): per API, its routes and the contract operations
    they call; then the interface methods the local store answers in upstream mode too."""
    routes = list(routes)
    lines: list[str] = []
    for api, contract in contracts.items():
        mine = [r for r in routes if r.api == api]
        called = {op for r in mine for op in r.operations}
        count = sum(1 for op in contract.operations if op in called)
        lines += [
            f"### {contract.title} ({count} of {len(contract.operations)} operations called)",
            "",
            f"Contract: {contract.source}.",
            "",
            "| interface method | operations called | GraphQL | tests |",
            "|---|---|---|---|",
        ]
        for r in mine:
            operations = (
                f"all {len(r.operations)} (the generated table)"
                if len(r.operations) > 20 and set(r.operations) == set(contract.operations)
                else ", ".join(f"`{op}`" for op in r.operations)
            )
            tests = ", ".join(f"`{t}`" for t in r.tests)
            lines.append(f"| `{r.domain}.{r.method}` | {operations} | {r.graphql} | {tests} |")
        missing = [op for op in contract.operations if op not in called]
        if missing:
            lines += ["", "Not called: " + ", ".join(f"`{op}`" for op in missing) + "."]
        lines.append("")
    routed = {(r.domain, r.method) for r in routes}
    lines += [
        "### Answered by the local store in upstream mode too",
        "",
        "| domain | interface methods |",
        "|---|---|",
    ]
    for domain, interface in domains(backend).items():
        local = [m for m in operations_of(interface) if (domain, m) not in routed]
        if local:
            lines.append(f"| `{domain}` | " + ", ".join(f"`{m}`" for m in local) + " |")
    return "\n".join(lines) + "\n"
