// Hive Gateway's configuration for the supergraph of mesh.config.ts: the part of catalog-100's join
// that Mesh's declarative @resolveTo cannot say (bench/README.md, "catalog-100's shape"), written as
// resolvers over the gateway's in-context SDK (`context.<subgraph>.Query.<field>`), batched as the
// yoga variant and facade batch it, per request:
//   - a product's SKU: one `Ref.skus` call for every product of the query (`GET /ref/skus`); its
//     prices and stock need the SKU as well, so the three fields share one loader (a @resolveTo
//     `keysArg` batch is its field's own: `sku` by @resolveTo would cost a second call);
//   - prices: `GET /cat/groups` once, then one `cat_searchGroupPrices` per price group with every
//     SKU `in` (100 a call), each product's prices in the order of the groups;
//   - stock: one `wms_searchInventory` with every SKU `in`, pages of 1,000 levels;
//     a level's location from `GET /wms/locations`, loaded whole once.
// Money is Afosto's integer minor units written as facade writes it ("12.50").
import DataLoader from 'dataloader';
import { defineConfig } from '@graphql-hive/gateway';

const SKUS_PER_SEARCH = 100; // facade's FACADE_AFOSTO_BATCH_SIZE default
const AFOSTO_PAGE = 1000; // items per page: one page holds 100 SKUs' levels

type Sdk = (options: Record<string, unknown>) => Promise<any>;
type Context = Record<string, any>;

function money(minor: number): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// Afosto answers a list of its type, or an Error (the OpenAPI document's error responses).
function items(answer: any, what: string): any[] {
  if (!Array.isArray(answer)) throw new Error(`Afosto ${what}: ${answer?.message ?? 'no list'}`);
  return answer;
}

const skuIn = (skus: readonly string[]) => ({ constraints: [{ key: 'sku', operator: 'in', values: skus }] });

function loadersOf(context: Context) {
  const sdk = (source: string, field: string): Sdk => context[source].Query[field];
  // every page of a paged Afosto list (x-page / x-page-size headers as arguments)
  async function all(field: string, args: Record<string, unknown>, selectionSet: string, pageArgs: [string, string]) {
    const found: any[] = [];
    for (let page = 1; ; page++) {
      const paging = { [pageArgs[0]]: String(page), [pageArgs[1]]: String(AFOSTO_PAGE) };
      const list = items(await sdk('Afosto', field)({ root: {}, args: { ...args, ...paging }, context, selectionSet }), field);
      found.push(...list);
      if (list.length < AFOSTO_PAGE) return found;
    }
  }
  let groups: Promise<any[]> | undefined;
  let locations: Promise<Map<string, any>> | undefined;
  const prices = new Map<string, DataLoader<string, any>>();
  return {
    skus: new DataLoader<number, string | null>((ids) =>
      sdk('Ref', 'skus')({ root: {}, args: { product_ids: ids }, context }),
    ),
    groups: () =>
      (groups ??= all('cat_groups', {}, '{ ... on CatGroup { id name currency } }', ['x_page', 'x_page_size'])),
    locations: () =>
      (locations ??= all('wms_locations', {}, '{ ... on WmsLocation { id name } }', ['X_Page', 'X_Page_Size']).then(
        (list) => new Map(list.map((l) => [l.id, l])),
      )),
    prices(groupId: string) {
      let loader = prices.get(groupId);
      if (loader === undefined) {
        loader = new DataLoader(
          async (skus) => {
            const args = { id: groupId, input: skuIn(skus) };
            const selectionSet = '{ ... on CatPrice { sku amount } }';
            const found = items(await sdk('Afosto', 'cat_searchGroupPrices')({ root: {}, args, context, selectionSet }), 'prices');
            const bySku = new Map(found.map((x) => [x.sku, x]));
            return skus.map((sku) => bySku.get(sku) ?? null);
          },
          { maxBatchSize: SKUS_PER_SEARCH },
        );
        prices.set(groupId, loader);
      }
      return loader;
    },
    stock: new DataLoader<string, any[]>(
      async (skus) => {
        const selectionSet = '{ ... on WmsStock { sku location_id available total } }';
        const levels = await all('wms_searchInventory', { input: skuIn(skus) }, selectionSet, ['x_page', 'x_page_size']);
        const bySku = new Map(skus.map((sku) => [sku, [] as any[]]));
        for (const level of levels) bySku.get(level.sku)?.push(level);
        return skus.map((sku) => bySku.get(sku)!);
      },
      { maxBatchSize: SKUS_PER_SEARCH },
    ),
  };
}

type Loaders = ReturnType<typeof loadersOf>;
const perRequest = new WeakMap<Context, Loaders>();

function loaders(context: Context): Loaders {
  let found = perRequest.get(context);
  if (found === undefined) {
    found = loadersOf(context);
    perRequest.set(context, found);
  }
  return found;
}

// A product's list by its SKU (none without one), cut to `first` (10 by default, as facade's).
function bySku(list: (sku: string, l: Loaders) => Promise<any[]>) {
  return {
    selectionSet: '{ id }',
    async resolve(p: any, args: { first?: number }, context: Context) {
      const l = loaders(context);
      const sku = await l.skus.load(p.id);
      return sku == null ? [] : (await list(sku, l)).slice(0, args.first ?? 10);
    },
  };
}

export const gatewayConfig = defineConfig({
  additionalTypeDefs: /* GraphQL */ `
    "A product's price in one Afosto price group."
    type CatalogPrice {
      "decimal string in the group's currency, 12.50"
      amount: String!
      currency: String
      priceGroup: CatGroup
    }
    "A stock level (Afosto WmsStock) with its location."
    type CatalogStockLevel {
      available: Int
      total: Int
      location: WmsLocation
    }
    extend type product {
      "the product's SKU, facade's join key between FLECS and Afosto (from the stub's /ref/skus)"
      sku: String
      "its Afosto prices, one per price group that has one, in the order of GET /cat/groups"
      prices(first: Int): [CatalogPrice!]!
      "its Afosto stock levels, in the order of Afosto's answer"
      stock(first: Int): [CatalogStockLevel!]!
    }
  `,
  additionalResolvers: {
    product: {
      sku: {
        selectionSet: '{ id }',
        resolve: (p: any, _args: unknown, context: Context) => loaders(context).skus.load(p.id),
      },
      prices: bySku(async (sku, l) => {
        const groups = await l.groups();
        const found = await Promise.all(groups.map((g) => l.prices(g.id).load(sku)));
        const nodes: any[] = [];
        groups.forEach((group, i) => {
          if (found[i]) nodes.push({ amount: money(found[i].amount), currency: group.currency, priceGroup: group });
        });
        return nodes;
      }),
      stock: bySku(async (sku, l) => {
        const [levels, locations] = await Promise.all([l.stock.load(sku), l.locations()]);
        return levels.map((level: any) => ({
          available: level.available,
          total: level.total,
          location: locations.get(level.location_id) ?? null,
        }));
      }),
    },
  },
});
