// The benchmark's upstream: a small node:http server (keep-alive) over a data file that
// bench/run.py exports from facade's seeded local store, so every variant sees the same data.
//
//   node stub.js <data.json> <port> [<secret>]   (the tokens' HS256 secret: FLECS user tokens, Afosto tokens)
//
// FLECS Console shapes (what facade's FLECS client calls):
//   GET /api/v2/products?store_id=&page=&per_page=&include=1,2   -> {statusCode, statusText, data: {page, totalPages, products}}
//       with WooCommerce's X-WP-Total (items matching) and X-WP-TotalPages (ceil(total / per_page)),
//       as the real console sends them and facade's sandbox does: facade reads the total from
//       X-WP-Total instead of fetching the last page to count.
//   GET /api/v2/products/{id}                                    -> {statusCode, statusText, data: product}
//   POST /api/v2/auth/validate  {jwt: {token}}                   -> {statusCode, statusText, data: {isValid}}
//       how facade's upstream mode checks a user token (no JWKS configured): valid when it is an
//       HS256 JWT signed with <secret> (the benchmark shares facade's FACADE_JWT_SECRET, so alice's
//       token from facade-local's login is valid) and not expired.
// Flow Retail Device API v2 shapes (what facade's Flow client calls; base URL `<stub>/v2`):
//   GET /v2/tenants/{tenantUid}/devices?pageNumber=&pageSize=&sortDirection=&storeUid=
//       -> {items: [DEVICE], pageNumber, pageSize, totalCount}, ordered by deviceUid (the API's
//       default order, as facade's sandbox keeps it); needs `Authorization: Bearer <token>` (any
//       token: the stub checks the header is there, not the signature), else 401.
// For the references (b) and (c), which have no local store, the reads FLECS does not offer:
//   GET /ref/stores?ids=1,2   GET /ref/users?ids=1,2   GET /ref/reviews?product_ids=1,2&first=3
//   GET /ref/tenant-stores?tenant=<uid>&first=5 (a tenant's stores by id)   GET /ref/skus?product_ids=1,2
//   (each product's SKU, the join key facade keeps in its local store; null where it has none)
// Afosto (what catalog-100 needs; base URL `<stub>/afosto`, as facade's sandbox serves it), each
// tenant's data as the seeded store holds it; the tenant is the one of the caller's token, an HS256
// JWT signed with <secret> whose claim `tenant_id` is the Afosto tenant (as facade's
// sandbox hands them out); no token, or one not signed with it, is 401:
//   GET  /afosto/cat/groups                -> [CatGroup]   (x-page, x-page-size; x-count)
//   POST /afosto/cat/groups/{id}/prices    -> [CatPrice]   body {active_at?, constraints: [{key: sku, operator: in, values}]}
//   GET  /afosto/wms/locations             -> [WmsLocation] (x-page, x-page-size; x-page)
//   POST /afosto/wms/inventory             -> [WmsStock]   body {constraints: [{key: sku|location_id, operator: in, values}]}
//                                             (x-page, x-page-size; x-page, x-count), by location_id then sku
//   GET  /afosto/iam/tenants/{id}          -> IamTenant, the token's own tenant only (else 403)
// Constraints take Afosto's both spellings, `values` and `value`.
// Counting:  GET /__calls -> {"calls": n}   POST /__calls/reset
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');

const [file, port, secret] = process.argv.slice(2);
const data = JSON.parse(fs.readFileSync(file, 'utf8'));
const products = data.products; // FLECS product objects, ordered by id
const productById = new Map(products.map((p) => [p.id, p]));
const storeById = new Map(data.stores.map((s) => [s.id, s]));
const userById = new Map(data.users.map((u) => [u.id, u]));
const devicesByTenant = new Map(); // tenantUid -> devices ordered by deviceUid
for (const d of data.devices || []) {
  if (!devicesByTenant.has(d.tenantUid)) devicesByTenant.set(d.tenantUid, []);
  devicesByTenant.get(d.tenantUid).push(d);
}
for (const list of devicesByTenant.values()) list.sort((a, b) => (a.deviceUid < b.deviceUid ? -1 : 1));
const reviewsByProduct = new Map(); // newest first (created_at desc, id desc), as facade orders them
for (const r of data.reviews) {
  if (!reviewsByProduct.has(r.product_id)) reviewsByProduct.set(r.product_id, []);
  reviewsByProduct.get(r.product_id).push(r);
}
for (const list of reviewsByProduct.values()) {
  list.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : b.id - a.id));
}

const skuByProduct = new Map(Object.entries(data.skus || {}).map(([id, sku]) => [Number(id), sku]));
const storesByTenant = new Map(); // tenantUid -> [{id, name}] by id
for (const st of data.stores) {
  if (st.tenant_id == null) continue;
  if (!storesByTenant.has(st.tenant_id)) storesByTenant.set(st.tenant_id, []);
  storesByTenant.get(st.tenant_id).push({ id: st.id, name: st.name });
}
for (const list of storesByTenant.values()) list.sort((a, b) => a.id - b.id);
const afosto = new Map(Object.entries(data.afosto || {})); // Afosto tenant id -> its records

let calls = 0;
// Every answer depends only on the URL, so each is serialised once (bounded): the stub must not
// be the bottleneck, and JSON.stringify of a 100-product page is most of its cost.
const memo = new Map(); // url -> {status, text, headers}
const MEMO = 20000;

function write(res, answer) {
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(answer.text),
    ...answer.headers,
  });
  res.end(answer.text);
}

function send(res, status, body, key, headers = {}) {
  const answer = { status, text: JSON.stringify(body), headers };
  if (key !== undefined && memo.size < MEMO) memo.set(key, answer);
  write(res, answer);
}

function ok(data) {
  return { statusCode: 200, statusText: 'OK', data };
}

function ids(value) {
  return (value || '')
    .split(',')
    .filter((s) => s !== '')
    .map(Number);
}

// --- Afosto -------------------------------------------------------------------------------

const verdicts = new Map(); // token -> its claims (null: refused), bounded

function b64url(buf) {
  return buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

// The claims of an HS256 JWT signed with the secret and not expired, else null.
function claimsOf(token) {
  if (!secret || typeof token !== 'string') return null;
  let claims = verdicts.get(token);
  if (claims === undefined) {
    claims = null;
    const parts = token.split('.');
    if (parts.length === 3) {
      const mac = b64url(crypto.createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest());
      if (mac === parts[2]) {
        try {
          claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
        } catch (_) {
          claims = null;
        }
      }
    }
    if (verdicts.size < 1000) verdicts.set(token, claims);
  }
  return claims !== null && (claims.exp == null || claims.exp * 1000 > Date.now()) ? claims : null;
}

// The Afosto tenant an `Authorization: Bearer <jwt>` is for, or null (missing, not signed with
// the secret, expired, no tenant_id claim).
function tokenTenant(header) {
  const m = /^Bearer (.+)$/i.exec(header || '');
  const claims = m ? claimsOf(m[1]) : null;
  return claims !== null && typeof claims.tenant_id === 'string' ? claims.tenant_id : null;
}

// A POST body, read whole, then `then(text)`.
function withBody(req, then) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
}

function afostoError(res, status, message) {
  const body = { code: status, message, reference: `bench-stub-${status}`, errors: {} };
  return send(res, status, body);
}

// `in` constraints as {key: Set of values}; Afosto spells the list `values` and, on some
// operations, `value`.
function constraintsOf(body) {
  const out = {};
  for (const c of (body && body.constraints) || []) {
    if (!c || c.operator !== 'in') continue;
    const list = Array.isArray(c.values) ? c.values : Array.isArray(c.value) ? c.value : [];
    out[c.key] = new Set(list.map(String));
  }
  return out;
}

// Afosto's paging: x-page / x-page-size request headers (1 and 25 by default).
function paged(req, list, headers, nextPage) {
  const size = Math.max(1, Number(req.headers['x-page-size'] || 25) || 25);
  const page = Math.max(1, Number(req.headers['x-page'] || 1) || 1);
  const items = list.slice((page - 1) * size, page * size);
  if (nextPage) headers['x-page'] = String(page * size < list.length ? page + 1 : page);
  return items;
}

function afostoAnswer(req, res, path, tenantId, body, key) {
  const own = afosto.get(tenantId);
  if (own === undefined) return afostoError(res, 403, 'The token is for no tenant the stub knows.');
  const headers = {};
  if (req.method === 'GET' && path === '/cat/groups') {
    headers['x-count'] = String(own.groups.length);
    return send(res, 200, paged(req, own.groups, headers, false), key, headers);
  }
  if (req.method === 'GET' && path === '/wms/locations') {
    return send(res, 200, paged(req, own.locations, headers, true), key, headers);
  }
  const prices = path.match(/^\/cat\/groups\/([^/]+)\/prices$/);
  if (prices && req.method === 'POST') {
    const group = own.prices[decodeURIComponent(prices[1])];
    if (group === undefined) return afostoError(res, 404, 'No such price group.');
    const wanted = constraintsOf(body).sku;
    const at = body && body.active_at ? Date.parse(body.active_at) : Date.now();
    const best = new Map(); // sku -> the price active at `at` (the latest that started by then)
    for (const p of group) {
      if (wanted && !wanted.has(p.sku)) continue;
      const start = p.active_at ? Date.parse(p.active_at) : -Infinity;
      if (start > at) continue;
      const kept = best.get(p.sku);
      if (kept === undefined || start >= (kept.active_at ? Date.parse(kept.active_at) : -Infinity)) best.set(p.sku, p);
    }
    const found = [...best.values()];
    headers['x-count'] = String(found.length);
    return send(res, 200, found, key, headers);
  }
  if (req.method === 'POST' && path === '/wms/inventory') {
    const c = constraintsOf(body);
    const found = own.stock.filter(
      (s) => (!c.sku || c.sku.has(s.sku)) && (!c.location_id || c.location_id.has(s.location_id)),
    );
    headers['x-count'] = String(found.length);
    return send(res, 200, paged(req, found, headers, true), key, headers);
  }
  const tenant = path.match(/^\/iam\/tenants\/([^/]+)$/);
  if (tenant && req.method === 'GET') {
    // "the current tenant": a token answers for its own tenant only
    if (decodeURIComponent(tenant[1]) !== tenantId) return afostoError(res, 403, 'Not the token\'s tenant.');
    return send(res, 200, own.tenant, key);
  }
  return afostoError(res, 404, 'The bench stub does not serve this Afosto operation.');
}

function afostoRequest(req, res, path) {
  const tenantId = tokenTenant(req.headers.authorization);
  if (tenantId === null) return afostoError(res, 401, 'Missing or invalid token.');
  withBody(req, (text) => {
    // The answer depends on the tenant, the request and its paging headers: memoised on them.
    const key = `${tenantId} ${req.method} ${req.url} ${req.headers['x-page'] || ''} ${req.headers['x-page-size'] || ''} ${text}`;
    const cached = memo.get(key);
    if (cached !== undefined) return write(res, cached);
    let body = null;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (_) {
        return afostoError(res, 400, 'The body is not JSON.');
      }
    }
    return afostoAnswer(req, res, path, tenantId, body, key);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://stub');
  const path = url.pathname;
  const q = url.searchParams;
  if (path === '/__calls') {
    if (req.method === 'POST') calls = 0;
    return send(res, 200, { calls });
  }
  if (path === '/__calls/reset') {
    calls = 0;
    return send(res, 200, { calls });
  }
  calls += 1;
  if (path.startsWith('/afosto/')) return afostoRequest(req, res, path.slice('/afosto'.length));
  if (path === '/api/v2/auth/validate' && req.method === 'POST') {
    return withBody(req, (text) => {
      let token = null;
      try {
        token = JSON.parse(text).jwt.token;
      } catch (_) {
        return send(res, 400, { statusCode: 400, statusText: 'Bad Request' });
      }
      return send(res, 200, ok({ isValid: claimsOf(token) !== null }));
    });
  }
  if (path.startsWith('/v2/') && !/^Bearer .+/i.test(req.headers.authorization || '')) {
    return send(res, 401, { message: 'Missing or invalid token', code: 'UNAUTHORIZED' });
  }
  const cached = memo.get(req.url);
  if (cached !== undefined) return write(res, cached);
  if (path === '/api/v2/products') {
    let list = products;
    if (q.has('store_id')) list = list.filter((p) => p.store && p.store.id === Number(q.get('store_id')));
    if (q.has('include')) {
      const wanted = new Set(ids(q.get('include')));
      list = list.filter((p) => wanted.has(p.id));
    }
    const perPage = Math.max(1, Math.min(100, Number(q.get('per_page') || 10)));
    const page = Math.max(1, Number(q.get('page') || 1));
    const totalPages = Math.ceil(list.length / perPage);
    const wp = { 'x-wp-total': String(list.length), 'x-wp-totalpages': String(totalPages) };
    const body = ok({ page, totalPages, products: list.slice((page - 1) * perPage, page * perPage) });
    return send(res, 200, body, req.url, wp);
  }
  const one = path.match(/^\/api\/v2\/products\/(\d+)$/);
  if (one) {
    const p = productById.get(Number(one[1]));
    return p ? send(res, 200, ok(p), req.url) : send(res, 404, { statusCode: 404, statusText: 'Not Found' });
  }
  const devices = path.match(/^\/v2\/tenants\/([A-Za-z0-9_-]+)\/devices$/);
  if (devices) {
    let list = devicesByTenant.get(devices[1]) || [];
    if (q.has('storeUid')) list = list.filter((d) => d.storeUid === q.get('storeUid'));
    if ((q.get('sortDirection') || 'ASC').toUpperCase() === 'DESC') list = list.slice().reverse();
    const size = Math.max(1, Math.min(100, Number(q.get('pageSize') || 20)));
    const number = Math.max(1, Number(q.get('pageNumber') || 1));
    const items = list.slice((number - 1) * size, number * size);
    return send(res, 200, { items, pageNumber: number, pageSize: size, totalCount: list.length }, req.url);
  }
  if (path === '/ref/stores') return send(res, 200, ids(q.get('ids')).map((i) => storeById.get(i) || null), req.url);
  if (path === '/ref/users') return send(res, 200, ids(q.get('ids')).map((i) => userById.get(i) || null), req.url);
  if (path === '/ref/tenant-stores') {
    const first = Number(q.get('first') || 10);
    return send(res, 200, (storesByTenant.get(q.get('tenant')) || []).slice(0, first), req.url);
  }
  if (path === '/ref/skus') return send(res, 200, ids(q.get('product_ids')).map((i) => skuByProduct.get(i) ?? null), req.url);
  if (path === '/ref/reviews') {
    const first = Number(q.get('first') || 3);
    return send(
      res,
      200,
      ids(q.get('product_ids')).map((i) => {
        const list = reviewsByProduct.get(i) || [];
        return { totalCount: list.length, nodes: list.slice(0, first) };
      }),
      req.url,
    );
  }
  return send(res, 404, { statusCode: 404, statusText: 'Not Found' });
});
server.keepAliveTimeout = 120000;
server.listen(Number(port), '127.0.0.1', () => console.log(`stub on ${port}`));
