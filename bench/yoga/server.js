// Reference (c): the peer a user would pick instead of facade. graphql-yoga + dataloader over
// the bench stub, with the subset of facade's schema the benchmark's workloads select.
//
//   node server.js <stub base url> <port>
//
// Its fastest honest configuration: upstream calls go through one undici.Pool (keep-alive,
// 100 connections, like facade's pool) with `pool.request`, not the global fetch (whose
// WHATWG Response objects cost several times more per call); a FLECS product's `store` is the
// one the product list embeds (no second call), as facade's and the hand-written reference's.
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

const typeDefs = /* GraphQL */ `
  enum ReviewSort { CREATED_AT }
  enum SortDirection { ASC DESC }
  type Store { id: ID! name: String! }
  type User { id: ID! displayName: String! }
  type Review { rating: Int! reviewer: String! review: String! }
  type ReviewConnection { totalCount: Int! nodes: [Review!]! }
  type Product {
    id: ID!
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
  }
`;

const resolvers = {
  Query: {
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
    id: (d) => d.deviceUid,
    createdAt: (d) => d.createdAt.replace(/\.\d+Z$/, '+00:00'),
  },
  Product: {
    // The list workloads' products have the embedded store and ask `store { id name }` only:
    // it is used as it came; the nested list asks the same fields, so its store loader is kept
    // for products without one (none in the bench data).
    store: (p, _, ctx) => (p.store ? (p.store.name !== undefined ? p.store : ctx.stores.load(p.store.id)) : null),
    owner: (p, _, ctx) => (p.owner_id != null ? ctx.users.load(p.owner_id) : null),
    reviews: (p, { first }, ctx) => ctx.reviews.load(`${p.id}:${first ?? 10}`),
  },
  User: { displayName: (u) => u.display_name },
};

function loaders() {
  return {
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
  context: () => loaders(),
  graphqlEndpoint: '/graphql',
  logging: false,
  maskedErrors: true,
});

const server = http.createServer(yoga);
server.keepAliveTimeout = 120000;
server.listen(Number(port), '127.0.0.1', () => console.log(`yoga on ${port}`));
