// Reference (c): the peer a user would pick instead of facade. graphql-yoga + dataloader over
// the bench stub, with the subset of facade's schema the benchmark's workloads select.
//
//   node server.js <stub base url> <port>
'use strict';
const http = require('node:http');
const { createSchema, createYoga } = require('graphql-yoga');
const DataLoader = require('dataloader');

const [upstream, port] = process.argv.slice(2);

async function get(path) {
  const res = await fetch(upstream + path);
  if (!res.ok) throw new Error(`upstream ${res.status} for ${path}`);
  return res.json();
}

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
  type Query {
    products(first: Int): ProductConnection
    product(id: ID!): Product
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
      const res = await fetch(`${upstream}/api/v2/products/${encodeURIComponent(id)}`);
      if (res.status === 404) return null;
      return (await res.json()).data;
    },
  },
  Product: {
    store: (p, _, ctx) => (p.store ? ctx.stores.load(p.store.id) : null),
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
