// Reference (c): the peer a user would pick instead of facade. graphql-yoga + dataloader over
// the bench stub, with the subset of facade's schema the benchmark's workloads select.
//
//   node server.js <stub base url> <port>
//
// Its fastest honest configuration: upstream calls go through one undici.Pool (keep-alive,
// 100 connections, like facade's pool) with `pool.request`, not the global fetch (whose
// WHATWG Response objects cost several times more per call); a FLECS product's `store` is the
// one the product list embeds (no second call), as facade's and the hand-written reference's.
// catalog-100's Afosto part is batched as facade batches it: one price search per price group and
// one inventory search per level (SKUs `in`, 100 a call), price groups and locations loaded whole
// once per request; tenant stores and product SKUs (facade's local data) come from `/ref/*`.
'use strict';
const http = require('node:http');
const { createSchema, createYoga } = require('graphql-yoga');
const DataLoader = require('dataloader');
const { Pool } = require('undici');

const [upstream, port] = process.argv.slice(2);
const pool = new Pool(upstream, { connections: 100 });

async function call(path, headers) {
  const { statusCode, body } = await pool.request({ method: 'GET', path, headers });
  if (statusCode === 404) {
    await body.dump();
    return null;
  }
  if (statusCode !== 200) {
    await body.dump();
    throw new Error(`upstream ${statusCode} for ${path}`);
  }
  return body.json();
}

const get = (path) => call(path);
// facade's global ids (graph/nodes.py): base64 of `<Type>:<source id>` (bench/README.md, "Global ids").
const gid = (type, key) => Buffer.from(`${type}:${key}`).toString('base64');

// One call to the stub's Afosto (`<upstream>/afosto`), the caller's Afosto token as its
// Authorization: the decoded answer.
async function afosto(method, path, auth, body, page) {
  const headers = auth ? { authorization: auth } : {};
  if (page) Object.assign(headers, { 'x-page': String(page[0]), 'x-page-size': String(page[1]) });
  if (body !== undefined) headers['content-type'] = 'application/json';
  const text = body === undefined ? undefined : JSON.stringify(body);
  const { statusCode, body: answer } = await pool.request({ method, path: `/afosto${path}`, headers, body: text });
  if (statusCode !== 200) {
    await answer.dump();
    throw new Error(`Afosto ${statusCode} for ${method} ${path}`);
  }
  return answer.json();
}

const SKUS_PER_SEARCH = 100; // facade's FACADE_AFOSTO_BATCH_SIZE default
const AFOSTO_PAGE = 1000; // items per page (Afosto documents no maximum): one page holds 100 SKUs' levels

async function afostoAll(method, path, auth, body) {
  const found = [];
  for (let page = 1; ; page++) {
    const items = await afosto(method, path, auth, body, [page, AFOSTO_PAGE]);
    found.push(...items);
    if (items.length < AFOSTO_PAGE) return found;
  }
}

const skuIn = (skus) => ({ constraints: [{ key: 'sku', operator: 'in', values: skus }] });

// Minor units as a decimal string, 1250 -> "12.50" (the seed's currencies have 2 decimals).
function money(minor) {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

const typeDefs = /* GraphQL */ `
  enum ReviewSort { CREATED_AT }
  enum SortDirection { ASC DESC }
  type Store {
    id: ID!
    sourceId: ID!
    name: String!
    products(first: Int): ProductConnection
  }
  type StoreConnection { nodes: [Store!]! }
  type Tenant { stores(first: Int): StoreConnection }
  type PriceGroup { name: String! }
  type Price { amount: String! currency: String! priceGroup: PriceGroup }
  type PriceConnection { nodes: [Price!]! }
  type Location { sourceId: ID! name: String! }
  type StockLevel { available: Int! total: Int! location: Location }
  type StockLevelConnection { nodes: [StockLevel!]! }
  type User { id: ID! displayName: String! }
  type Review { rating: Int! reviewer: String! review: String! }
  type ReviewConnection { totalCount: Int! nodes: [Review!]! }
  type Product {
    id: ID!
    sourceId: ID!
    sku: String
    prices(first: Int): PriceConnection
    stock(first: Int): StockLevelConnection
    name: String!
    price: String!
    store: Store
    owner: User
    reviews(first: Int, sortBy: ReviewSort, sortDirection: SortDirection): ReviewConnection
  }
  type ProductConnection { nodes: [Product!]! }
  enum DeviceAppType { CLIENT ASSISTANT UNKNOWN }
  enum DeviceStatus { READY_TO_LINK ACTIVE BLOCKED }
  type Device {
    id: ID!
    name: String
    appType: DeviceAppType!
    status: DeviceStatus!
    deviceCode: String
    createdAt: String!
  }
  type DeviceConnection { nodes: [Device!]! }
  type Query {
    products(first: Int): ProductConnection
    product(id: ID!): Product
    devices(tenantUid: String!, first: Int): DeviceConnection
    tenant(tenantUid: String!): Tenant
  }
`;

const resolvers = {
  Query: {
    tenant: (_, { tenantUid }) => ({ uid: tenantUid }),
    async products(_, { first }) {
      const n = first ?? 10;
      const size = Math.min(n, 100);
      const pages = [];
      for (let page = 1; (page - 1) * size < n; page++) pages.push(get(`/api/v2/products?page=${page}&per_page=${size}`));
      const lists = await Promise.all(pages);
      return { nodes: lists.flatMap((l) => l.data.products).slice(0, n) };
    },
    async product(_, { id }) {
      const found = await get(`/api/v2/products/${encodeURIComponent(id)}`);
      return found === null ? null : found.data;
    },
    // Flow Retail F7, one page (first <= 100), with the caller's token forwarded.
    async devices(_, { tenantUid, first }, ctx) {
      const size = first ?? 20;
      const path = `/v2/tenants/${encodeURIComponent(tenantUid)}/devices?pageNumber=1&pageSize=${size}&sortDirection=ASC`;
      const auth = ctx.request.headers.get('authorization');
      const page = await call(path, auth ? { authorization: auth } : undefined);
      return { nodes: page.items };
    },
  },
  Device: {
    id: (d) => gid('Device', d.deviceUid),
    createdAt: (d) => d.createdAt.replace(/\.\d+Z$/, '+00:00'),
  },
  Product: {
    id: (p) => gid('Product', p.id),
    // The list workloads' products have the embedded store and ask `store { id name }` only:
    // it is used as it came; the nested list asks the same fields, so its store loader is kept
    // for products without one (none in the bench data).
    store: (p, _, ctx) => (p.store ? (p.store.name !== undefined ? p.store : ctx.stores.load(p.store.id)) : null),
    owner: (p, _, ctx) => (p.owner_id != null ? ctx.users.load(p.owner_id) : null),
    reviews: (p, { first }, ctx) => ctx.reviews.load(`${p.id}:${first ?? 10}`),
  },
  User: { id: (u) => gid('User', u.id), displayName: (u) => u.display_name },
  Tenant: {
    async stores(t, { first }) {
      return { nodes: await get(`/ref/tenant-stores?tenant=${encodeURIComponent(t.uid)}&first=${first ?? 10}`) };
    },
  },
  Store: {
    id: (s) => gid('Store', s.id),
    sourceId: (s) => String(s.id),
    products: (s, { first }, ctx) => ctx.storeProducts.load(`${s.id}:${first ?? 10}`),
  },
  Price: {
    amount: (x) => money(x.price.amount),
    currency: (x) => x.group.currency,
    priceGroup: (x) => x.group,
  },
  StockLevel: {
    location: async (level, _, ctx) => (await ctx.locations()).get(level.location_id) ?? null,
  },
  Location: { sourceId: (l) => l.id },
};

// Product's catalogue fields (added to the resolvers above).
Object.assign(resolvers.Product, {
  sourceId: (p) => String(p.id),
  sku: (p, _, ctx) => ctx.skus.load(p.id),
  async prices(p, { first }, ctx) {
    const sku = await ctx.skus.load(p.id);
    if (sku == null) return { nodes: [] };
    const groups = await ctx.groups();
    const found = await Promise.all(groups.map((g) => ctx.prices(g.id).load(sku)));
    const nodes = [];
    groups.forEach((group, i) => {
      if (found[i]) nodes.push({ price: found[i], group });
    });
    return { nodes: nodes.slice(0, first ?? 10) };
  },
  async stock(p, { first }, ctx) {
    const sku = await ctx.skus.load(p.id);
    return { nodes: sku == null ? [] : (await ctx.stock.load(sku)).slice(0, first ?? 10) };
  },
});

function loaders(request) {
  const auth = request.headers.get('x-afosto-authorization') || undefined;
  let groups; // the price groups, loaded whole once per request
  let locations; // id -> location, likewise
  const prices = new Map(); // price group id -> its loader
  return {
    storeProducts: new DataLoader((keys) =>
      // one FLECS page per store (the API lists one store_id at a time), concurrently
      Promise.all(
        keys.map(async (key) => {
          const [id, first] = key.split(':');
          const page = await get(`/api/v2/products?store_id=${id}&page=1&per_page=${first}`);
          return { nodes: page.data.products };
        }),
      ),
    ),
    skus: new DataLoader((ids) => get(`/ref/skus?product_ids=${ids.join(',')}`)),
    groups: () => (groups ??= afostoAll('GET', '/cat/groups', auth)),
    locations: () =>
      (locations ??= afostoAll('GET', '/wms/locations', auth).then((list) => new Map(list.map((l) => [l.id, l])))),
    prices: (groupId) => {
      if (!prices.has(groupId)) {
        const search = async (skus) => {
          const found = await afosto('POST', `/cat/groups/${encodeURIComponent(groupId)}/prices`, auth, skuIn(skus));
          const bySku = new Map(found.map((x) => [x.sku, x]));
          return skus.map((sku) => bySku.get(sku) ?? null);
        };
        prices.set(groupId, new DataLoader(search, { maxBatchSize: SKUS_PER_SEARCH }));
      }
      return prices.get(groupId);
    },
    stock: new DataLoader(
      async (skus) => {
        const levels = await afostoAll('POST', '/wms/inventory', auth, skuIn(skus));
        const bySku = new Map(skus.map((sku) => [sku, []]));
        for (const level of levels) bySku.get(level.sku)?.push(level);
        return skus.map((sku) => bySku.get(sku));
      },
      { maxBatchSize: SKUS_PER_SEARCH },
    ),
    stores: new DataLoader((keys) => get(`/ref/stores?ids=${keys.join(',')}`)),
    users: new DataLoader((keys) => get(`/ref/users?ids=${keys.join(',')}`)),
    reviews: new DataLoader(async (keys) => {
      const first = keys[0].split(':')[1]; // one `first` per query in the workloads
      const ids = keys.map((k) => k.split(':')[0]);
      return get(`/ref/reviews?product_ids=${ids.join(',')}&first=${first}`);
    }),
  };
}

const yoga = createYoga({
  schema: createSchema({ typeDefs, resolvers }),
  context: ({ request }) => loaders(request),
  graphqlEndpoint: '/graphql',
  logging: false,
  maskedErrors: true,
});

const server = http.createServer(yoga);
server.keepAliveTimeout = 120000;
server.listen(Number(port), '127.0.0.1', () => console.log(`yoga on ${port}`));
