"""The FLECS Console API v2 (`contracts/flecs-console.openapi.yaml`) behind facade's backend
interfaces: `FlecsConsole(client)` holds one object per domain the API serves (users, products,
reviews, subscriptions, licenses, apps), all over the one `UpstreamClient` given.

Credentials: the caller's `Authorization` travels only through the HTTP layer's allow-list
(`forward=("authorization",)`) and only to the operations that take it (`/my/*`, device licence
registration and activation); an `X-Session-Id` an operation takes as an argument is sent
explicitly (`headers=`). Login and token validation forward nothing.

What the API cannot answer, and what is done instead:

- Paging: the contract has none. The `page`/`per_page` parameters of WooCommerce (which FLECS
  fronts) are sent; `PageWindow` turns limit/offset into one page, or two when the offset is not
  a multiple of the limit (pages hold at most 100, WooCommerce's largest, so a larger limit is
  several pages). An upstream that ignores them returns its whole list, which is then
  sorted and sliced here, exactly.
- Sorting: the API has none; its lists come in id order (ascending). Any other order (another
  key, or id descending) is made here over the whole list: every page is fetched (at once, once
  the first says how many there are) and sorted, then the window cut out, so the answer is the
  one the local store gives. A list longer than `sort_limit` items is refused with
  BadUserInput naming what upstream mode can sort, rather than sorting one page of it. A
  user's subscriptions are always fetched whole, so their sort is exact.
- Totals: `{totalProducts}` (or WooCommerce's `X-WP-Total` header, when it arrives) is exact;
  `{page, totalPages}` is exact once the last page has been seen, so a window short of the last
  page costs one more GET (of the last page).
- Who is calling: `/my/*` answer for the token's owner only, so purchases and subscriptions are
  answered for the calling user (known from a login made through this client, or read from the
  forwarded JWT's claims, unverified: the upstream verifies it) and are empty for anyone else.
- A review needs the reviewer's name and e-mail in the body (and the JWT, D3): they come from
  the login kept for the token (logins through this client are remembered, bounded, in memory),
  else the JWT's claims, else the token's subject and no e-mail.

Each public async method here is an interface method routed to this API in `backends/routes.py`
(checked at start-up); what is not routed (users by id, products by id or owner, reviews by
product or user, licences, manifests by app version or product, ...) the local store answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from facade.auth import Principal
from facade.backends.interfaces import Activation, LoginResult, ProductQuery, TokenResult
from facade.backends.upstream.base import ApiClient, ApiPart
from facade.backends.upstream.fanout import TooLong, each, gather_limited, whole_list
from facade.backends.upstream.flecs import payloads as p
from facade.backends.upstream.http import ApiPolicy, UpstreamClient, UpstreamResponse
from facade.backends.upstream.payloads import UNKNOWN_TIME, PageWindow, jwt_claims, page_of, record_id, sort_locally
from facade.errors import BadUserInput, Unauthenticated, UpstreamError
from facade.models import (
    AppManifest,
    Device,
    Page,
    PageArgs,
    Product,
    Review,
    Session,
    SortDirection,
    Subscription,
    User,
)

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")

WRONG_CREDENTIALS = "The username or password is incorrect."
# WooCommerce's largest per_page.
MAX_PER_PAGE = 100
KNOWN_USERS = 4096


def _put(cache: OrderedDict[K, V], key: K, value: V, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def response_session(response: UpstreamResponse, sent: str | None) -> Session | None:
    """The session of an X-Session-Id response header (D5), else the id that was sent (its
    timestamp unknown: 0), else None."""
    session = p.parse_session_header(response.headers.get("x-session-id"))
    if session is None and sent:
        return Session(id=sent, timestamp=0)
    return session


def _wordpress_user(claims: dict[str, Any]) -> dict[str, Any]:
    """`data.user` of a WordPress JWT (what FLECS's console issues), or {}."""
    data = claims.get("data")
    user = data.get("user") if isinstance(data, dict) else None
    return user if isinstance(user, dict) else {}


class KnownUsers:
    """Users who logged in through this client, by token and by id (LRU, bounded): the API has no
    user read, so this is how a later request learns its caller's name and e-mail."""

    def __init__(self, size: int = KNOWN_USERS) -> None:
        self.size = size
        self._by_token: OrderedDict[str, User] = OrderedDict()
        self._by_id: OrderedDict[int, User] = OrderedDict()

    def remember(self, token: str, user: User) -> None:
        _put(self._by_token, token, user, self.size)
        _put(self._by_id, user.id, user, self.size)

    def by_token(self, token: str | None) -> User | None:
        return self._by_token.get(token) if token else None

    def by_id(self, user_id: int) -> User | None:
        return self._by_id.get(user_id)

    def user_id(self, token: str | None) -> int | None:
        """Whom a token names: a known login, else the JWT's claims (not verified)."""
        if not token:
            return None
        known = self.by_token(token)
        if known is not None:
            return known.id
        claims = jwt_claims(token)
        nested = _wordpress_user(claims)
        for value in (claims.get("sub"), nested.get("id"), claims.get("user_id"), claims.get("id")):
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
        return None

    def reviewer(self, token: str, principal: Principal) -> tuple[str, str]:
        """The (name, e-mail) a review is signed with."""
        known = self.by_token(token) or (self.by_id(principal.user_id) if principal.user_id is not None else None)
        if known is not None:
            return known.display_name, known.email
        claims = jwt_claims(token)
        nested = _wordpress_user(claims)

        def first(*names: str) -> str:
            for source in (claims, nested):
                for name in names:
                    value = source.get(name)
                    if isinstance(value, str) and value.strip():
                        return value.strip()
            return ""

        name = first("display_name", "name", "preferred_username", "user_login", "login") or principal.subject
        return name, first("email", "user_email")


class _Part(ApiPart):
    def __init__(self, client: UpstreamClient, known: KnownUsers) -> None:
        super().__init__(client)
        self.known = known

    concurrency = 16

    def cap(self) -> asyncio.Semaphore:
        """The cap of one batch's calls in flight (FACADE_UPSTREAM_CONCURRENCY): each batch its
        own, so that concurrent requests never queue for each other's slots."""
        return asyncio.Semaphore(self.concurrency)

    def bearer(self) -> str | None:
        """The caller's token, from the request's allow-listed Authorization header."""
        return self.client.scope.bearer()


class FlecsUsers(_Part):
    async def login(self, username: str, password: str) -> LoginResult:
        """`POST /api/v2/auth/login`. FLECS answers wrong credentials with 403 (401 is read the
        same way): that is Unauthenticated, not Forbidden."""
        response = await self.client.send(
            "POST",
            "/api/v2/auth/login",
            json=p.LoginRequest(username=username, password=password, issueJWT=True).model_dump(),
            forward=(),
            ok=(200, 401, 403),
        )
        if response.status != 200:
            raise Unauthenticated(WRONG_CREDENTIALS)
        data = self.read(p.Envelope[p.LoginData], response).data
        result = LoginResult(user=p.login_user(data), token=p.login_token(data))
        self.known.remember(result.token.token, result.user)
        return result

    async def validate_token(self, token: str) -> bool:
        """`POST /api/v2/auth/validate`; a refusal (401/403, not in the contract) reads as invalid."""
        response = await self.client.send(
            "POST",
            "/api/v2/auth/validate",
            json=p.TokenValidateRequest(jwt={"token": token}).model_dump(),
            forward=(),
            ok=(200, 401, 403),
        )
        if response.status != 200:
            return False
        return self.read(p.Envelope[p.TokenValidateData], response).data.isValid


class FlecsProducts(_Part):
    def __init__(self, client: UpstreamClient, known: KnownUsers, concurrency: int, sort_limit: int) -> None:
        super().__init__(client, known)
        self.concurrency = concurrency  # calls of one batch in flight (`cap`)
        self.sort_limit = sort_limit
        self.product_item = p.product_reader(self.api)
        self.app_item = p.product_reader(self.api, is_app=True)

    async def page_all(self, query: ProductQuery, page: PageArgs) -> Page[Product]:
        path = "/api/v2/products/apps" if query.apps_only else "/api/v2/products"
        params = {"store_id": query.store_id} if query.store_id is not None else {}
        return await self._listed(path, params, page, apps=query.apps_only, forward=())

    async def page_by_store(
        self, store_ids: Sequence[int], apps_only: bool, page: PageArgs
    ) -> dict[int, Page[Product] | Exception]:
        """One call per store (the API lists one `store_id` at a time); a store whose call fails
        answers with its error, the others with their pages."""
        return await each(
            self.cap(), store_ids, lambda s: self.page_all(ProductQuery(apps_only=apps_only, store_id=s), page)
        )

    async def page_purchased(
        self, user_ids: Sequence[int], query: ProductQuery, page: PageArgs
    ) -> dict[int, Page[Product]]:
        """`GET /api/v2/my/products[/apps]` for the calling user; anyone else's page is empty
        (the API answers only for the token's owner)."""
        result: dict[int, Page[Product]] = {u: Page(items=[], total=0, offset=page.offset) for u in user_ids}
        caller = self.known.user_id(self.bearer())
        if caller is None or caller not in result:
            return result
        path = "/api/v2/my/products/apps" if query.apps_only else "/api/v2/my/products"
        params = {"store_id": query.store_id} if query.store_id is not None else {}
        result[caller] = await self._listed(path, params, page, apps=query.apps_only, forward=("authorization",))
        return result

    async def _listed(
        self, path: str, params: dict[str, Any], page: PageArgs, *, apps: bool, forward: tuple[str, ...]
    ) -> Page[Product]:
        window = PageWindow(page, MAX_PER_PAGE)
        if page.sort not in p.PRODUCT_SORT:
            raise BadUserInput(f"sort must be one of: {', '.join(sorted(p.PRODUCT_SORT))}", field="sort")

        async def fetch(number: int, size: int = window.size) -> p.ProductPage:
            response = await self.client.get(path, params={**params, "page": number, "per_page": size}, forward=forward)
            listed = self.read(p.Envelope[p.ProductPage], response).data
            # WooCommerce's total header: used when it arrives, never required.
            wp_total = response.headers.get("x-wp-total", "")
            if listed.totalProducts is None and wp_total.isdigit():
                listed.totalProducts = int(wp_total)
            return listed

        def build(listed: p.ProductPage) -> list[Product]:
            item = self.app_item if apps else self.product_item
            stores: dict[int, Any] = {}  # the page's products' store, built once (product_record)
            return [item(x, stores=stores) for x in listed.products]

        if page.sort != "id" or page.direction is not SortDirection.ASC:
            # Not the API's own order: sort the whole list (see the module docstring).
            async def whole(number: int) -> tuple[list[Product], int | None]:
                listed = await fetch(number, MAX_PER_PAGE)
                pages = listed.totalPages * MAX_PER_PAGE if listed.totalPages is not None else None
                return build(listed), listed.totalProducts if listed.totalProducts is not None else pages

            try:
                everything = await whole_list(whole, MAX_PER_PAGE, self.sort_limit, self.cap())
            except TooLong as too_long:
                raise unsortable(page, too_long.total, self.sort_limit) from None
            return page_of(
                sort_locally(sortable(everything, page, "products", p.PRODUCT_SORT), page, p.PRODUCT_SORT, record_id),
                page,
            )

        numbers = window.numbers
        # One page (the usual window): called here, not in a task of its own.
        lists = [await fetch(numbers[0])] if len(numbers) == 1 else list(await asyncio.gather(*map(fetch, numbers)))
        if any(len(listed.products) > window.size for listed in lists):
            # The upstream ignored paging and sent the whole list (in id order): slice it.
            return page_of(sort_locally(build(lists[0]), page, p.PRODUCT_SORT, record_id), page)
        records = window.cut([product for listed in lists for product in build(listed)])
        total = await self._total(lists, window, fetch)
        return Page(items=records, total=total, offset=page.offset)

    async def _total(
        self, lists: list[p.ProductPage], window: PageWindow, fetch: Callable[[int], Awaitable[p.ProductPage]]
    ) -> int:
        for listed in lists:
            if listed.totalProducts is not None:
                return listed.totalProducts
        last = lists[-1]
        pages = last.totalPages
        if pages is None:
            # Nothing says how long the list is: what was seen is all that is known.
            return (window.last - 1) * window.size + len(last.products)
        if pages <= 0:
            return 0
        if window.last != pages:
            last = await fetch(pages)
            if last.totalProducts is not None:
                return last.totalProducts
        return (pages - 1) * window.size + len(last.products)


def sortable(records: list[R], page: PageArgs, what: str, keys: dict[str, Any]) -> list[R]:
    """`records`, unless the page is sorted by a time the API did not send for all of them
    (the contract has no creation time for products and orders): then BadUserInput, since
    sorting by a time that is not there would answer a silently different list."""
    if page.sort == "created_at" and any(getattr(r, "created_at", None) == UNKNOWN_TIME for r in records):
        others = ", ".join(sorted(k.upper() for k in keys if k != "created_at"))
        raise BadUserInput(
            f"In upstream mode the FLECS Console API sends no creation time for {what}, so they cannot be "
            f"sorted by CREATED_AT; sort by {others}.",
            field="sortBy",
        )
    return records


def unsortable(page: PageArgs, total: int | None, limit: int) -> BadUserInput:
    """The refusal of an order the FLECS Console API cannot give for a list this long."""
    length = f"this list has {total}" if total is not None else "the API does not say how long this list is"
    return BadUserInput(
        "In upstream mode the FLECS Console API lists products by ID ascending only; any other order "
        f"(here {page.sort.upper()} {page.direction.value}) is made by facade over the whole list, for lists "
        f"of up to {limit} products, and {length}. Sort by ID ASC, or narrow the list with storeId.",
        field="sortBy",
    )


class FlecsReviews(_Part):
    async def create(self, principal: Principal, product_id: int, review: str, rating: int) -> Review:
        """`POST /api/v2/products/apps/reviews` with the caller's JWT inside the body (D3)."""
        token = principal.token or self.bearer()
        if token is None:
            raise Unauthenticated("Sign in to review a product.")
        if not 1 <= rating <= 5:
            raise BadUserInput("rating must be between 1 and 5", field="rating")
        text = review.strip()
        if not text:
            raise BadUserInput("review must not be blank", field="review")
        name, email = self.known.reviewer(token, principal)
        body = p.ReviewRequest(
            data=p.ReviewData(product_id=product_id, review=text, reviewer=name, reviewer_email=email, rating=rating),
            jwt=token,
        )
        response = await self.client.send(
            "POST", "/api/v2/products/apps/reviews", json=body.model_dump(), forward=(), ok=(200, 201)
        )
        created = self.read(p.Envelope[p.ReviewResponse], response).data.review
        user_id = principal.user_id if principal.user_id is not None else self.known.user_id(token)
        return p.to_review(created, user_id)


class FlecsSubscriptions(_Part):
    def __init__(self, client: UpstreamClient, known: KnownUsers, concurrency: int) -> None:
        super().__init__(client, known)
        self.concurrency = concurrency  # calls of one batch in flight (`cap`)
        self.order_item = p.order_reader(self.api)

    async def _mine(self, store_id: int | None) -> list[Subscription]:
        """Every subscription of the caller: page 1 of the largest size, then (when
        `totalSubscriptions` says there are more) the other pages at once."""
        params: dict[str, Any] = {"store_id": store_id} if store_id is not None else {}

        async def fetch(number: int) -> p.SubscriptionPage:
            response = await self.client.get(
                "/api/v2/my/subscriptions",
                params={**params, "page": number, "per_page": MAX_PER_PAGE},
                forward=("authorization",),
            )
            return self.read(p.Envelope[p.SubscriptionPage], response).data

        first = await fetch(1)
        orders = list(first.subscriptions)
        total = first.totalSubscriptions
        # An upstream that does not page sends everything at once, more than a page holds.
        if total is not None and MAX_PER_PAGE == len(orders) < total:
            pages = -(-total // MAX_PER_PAGE)
            rest = await gather_limited(self.cap(), [functools.partial(fetch, n) for n in range(2, pages + 1)])
            orders.extend(order for listed in rest for order in listed.subscriptions)
        item = self.order_item
        return [item(order) for order in orders]

    async def page_by_user(
        self, user_ids: Sequence[int], store_id: int | None, page: PageArgs
    ) -> dict[int, Page[Subscription]]:
        """`GET /api/v2/my/subscriptions` for the calling user (empty pages for anyone else). The
        whole list is fetched (a user has few), so sorting and paging here are exact."""
        result: dict[int, Page[Subscription]] = {u: Page(items=[], total=0, offset=page.offset) for u in user_ids}
        PageWindow(page)  # rejects a negative window before any call
        caller = self.known.user_id(self.bearer())
        if caller is None or caller not in result:
            return result
        mine = sort_locally(
            sortable(await self._mine(store_id), page, "subscriptions", p.SUBSCRIPTION_SORT),
            page,
            p.SUBSCRIPTION_SORT,
            record_id,
        )
        result[caller] = page_of(mine, page)
        return result


class FlecsLicenses(_Part):
    async def activate(
        self, principal: Principal | None, license_key: str | None, session_id: str | None
    ) -> Activation:
        """`POST /api/v2/device/license/activate`: 200 activated (session and key in the body),
        204 already active (session in the X-Session-Id header, D5; the id sent when the header
        is missing or unreadable)."""
        headers = {"X-Session-Id": session_id} if session_id else None
        key = license_key.strip() if license_key and license_key.strip() else None
        response = await self.client.send(
            "POST",
            "/api/v2/device/license/activate",
            json=p.ActivateRequest(licenseKey=key).model_dump(exclude_none=True),
            headers=headers,
            forward=("authorization",),
            ok=(200, 204),
        )
        if response.status == 204:
            session = response_session(response, session_id)
            if session is None:
                raise UpstreamError(f"The {self.api} answered without a session.", upstream=self.api)
            return Activation(session=session, license_key=None, already_active=True)
        data = self.read(p.Envelope[p.ActivationData], response).data
        return Activation(session=data.sessionId.to_session(), license_key=data.licenseKey, already_active=False)

    async def validate(self, session_id: str) -> tuple[bool, Session | None]:
        """`POST /api/v2/device/license/validate`. An unknown session refused with 403/404 (not in
        the contract, but what the manifests and tokens operations do) is simply not valid."""
        response = await self.client.send(
            "POST",
            "/api/v2/device/license/validate",
            headers={"X-Session-Id": session_id},
            forward=(),
            ok=(200, 403, 404),
        )
        if response.status != 200:
            return False, None
        valid = self.read(p.Envelope[p.LicenseValidateData], response).data.isValid
        header = p.parse_session_header(response.headers.get("x-session-id"))
        if header is not None:
            return valid, header
        return valid, (Session(id=session_id, timestamp=0) if valid else None)

    async def register_device(
        self,
        principal: Principal,
        manufacturer_id: int,
        manufacturer_name: str,
        model: str,
        serial_number: str,
        manufacture_date: dt.date,
    ) -> Device:
        """`POST /api/v2/device/license` with the caller's Authorization (201; 200 accepted)."""
        body = p.DeviceLicenseRequest(
            manufacturer=p.Manufacturer(id=manufacturer_id, name=manufacturer_name),
            model=model,
            serial_number=serial_number,
            manufacture_date=manufacture_date,
        )
        response = await self.client.send(
            "POST",
            "/api/v2/device/license",
            json=body.model_dump(mode="json"),
            forward=("authorization",),
            ok=(200, 201),
        )
        data = self.read(p.Envelope[p.DeviceLicenseResponse], response).data
        return p.registered_device(data, owner_id=principal.user_id, tenant_id=principal.tenant_id, sent=body)


class FlecsApps(_Part):
    async def download_manifest(
        self,
        session_id: str,
        app: str,
        version: str,
        manifest_version: str | None,
        max_manifest_version: str | None,
    ) -> AppManifest:
        """`GET /api/v2/manifests/{app}/{version}` with the device's session; the manifest's
        `_schemaVersion` is its schema version (the one asked for when it has none)."""
        params = {
            name: value
            for name, value in (("manifest_version", manifest_version), ("max_manifest_version", max_manifest_version))
            if value is not None
        }
        response = await self.client.get(
            f"/api/v2/manifests/{quote(app, safe='')}/{quote(version, safe='')}",
            params=params,
            headers={"X-Session-Id": session_id},
            forward=(),
        )
        manifest = self.read(p.Envelope[dict[str, Any]], response).data
        schema = manifest.get("_schemaVersion")
        return AppManifest(
            app=app,
            version=version,
            schema_version=str(schema) if schema is not None else (manifest_version or ""),
            manifest=manifest,
            product_id=None,
        )

    async def create_token(self, session_id: str, app: str, version: str) -> TokenResult:
        """`POST /api/v2/tokens`: 200 a registry login, 204 none (an unofficial app)."""
        response = await self.client.send(
            "POST",
            "/api/v2/tokens",
            json=p.TokenRequest(app=app, version=version).model_dump(),
            headers={"X-Session-Id": session_id},
            forward=(),
            ok=(200, 204),
        )
        session = response_session(response, session_id) or Session(id=session_id, timestamp=0)
        if response.status == 204:
            return TokenResult(session=session, token=None)
        data = self.read(p.Envelope[p.TokenData], response).data
        return TokenResult(session=session, token=p.download_token(data, app, version, session))


class FlecsConsole(ApiClient):
    """The FLECS Console API v2, one attribute per domain it serves (declared below, so the
    routing table is checked against them at start-up, see `backends/routes.py`).

    `concurrency` caps the calls one batch sends at once (products of many stores; the pages of
    a list sorted here). `sort_limit` is the longest product list fetched whole to be sorted
    here (see the module docstring).
    """

    # As HTTP says: GETs read, every POST (login, validation, licences, tokens, reviews) writes;
    # the forwarded Authorization authorises; a refusal is read by its status alone.
    policy = ApiPolicy()

    users: FlecsUsers
    products: FlecsProducts
    reviews: FlecsReviews
    subscriptions: FlecsSubscriptions
    licenses: FlecsLicenses
    apps: FlecsApps

    def __init__(self, client: UpstreamClient, *, concurrency: int = 16, sort_limit: int = 1000) -> None:
        super().__init__(client)
        self.known_users = KnownUsers()
        self.users = FlecsUsers(client, self.known_users)
        self.products = FlecsProducts(client, self.known_users, concurrency, sort_limit)
        self.reviews = FlecsReviews(client, self.known_users)
        self.subscriptions = FlecsSubscriptions(client, self.known_users, concurrency)
        self.licenses = FlecsLicenses(client, self.known_users)
        self.apps = FlecsApps(client, self.known_users)
