// The benchmark's upstream: a small node:http server (keep-alive) over a data file that
// bench/run.py exports from facade's seeded local store, so every variant sees the same data.
//
//   node stub.js <data.json> <port>
//
// FLECS Console shapes (what facade's FLECS client calls):
//   GET /api/v2/products?store_id=&page=&per_page=&include=1,2   -> {statusCode, statusText, data: {page, totalPages, products}}
//       with WooCommerce's X-WP-Total (items matching) and X-WP-TotalPages (ceil(total / per_page)),
//       as the real console sends them and facade's sandbox does: facade reads the total from
//       X-WP-Total instead of fetching the last page to count.
//   GET /api/v2/products/{id}                                    -> {statusCode, statusText, data: product}
// Flow Retail Device API v2 shapes (what facade's Flow client calls; base URL `<stub>/v2`):
//   GET /v2/tenants/{tenantUid}/devices?pageNumber=&pageSize=&sortDirection=&storeUid=
//       -> {items: [DEVICE], pageNumber, pageSize, totalCount}, ordered by deviceUid (the API's
//       default order, as facade's sandbox keeps it); needs `Authorization: Bearer <token>` (any
//       token: the stub checks the header is there, not the signature), else 401.
// For the references (b) and (c), which have no local store, the reads FLECS does not offer:
//   GET /ref/stores?ids=1,2   GET /ref/users?ids=1,2   GET /ref/reviews?product_ids=1,2&first=3
// Counting:  GET /__calls -> {"calls": n}   POST /__calls/reset
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const [file, port] = process.argv.slice(2);
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
