// GraphQL Mesh composition of the supergraph Hive Gateway serves (bench/run.py runs
//   FLECS_URL=<stub> AFOSTO_OPENAPI=<file> mesh-compose -o supergraph.graphql
// for each run, since the stub's address is part of the composed supergraph), from three sources:
//   FLECS   the benchmark's copy of the FLECS Console OpenAPI document (with the products list's
//           page/per_page), at the stub;
//   Afosto  the Afosto OpenAPI document facade builds (`facade afosto openapi`, written by run.py
//           at compose time), at the stub's /afosto, with the caller's X-Afosto-Authorization
//           forwarded as its Authorization; the two searches (POST) as queries, as they read;
//   Ref     the stub's /ref reads of facade's join data (ref.openapi.yaml): a tenant's stores and
//           each product's SKU, which neither FLECS nor Afosto has.
// catalog-100's join: a tenant's store to its FLECS products is declarative (@resolveTo below);
// a product's SKU, prices and stock are resolvers in gateway.config.ts (why there: its header).
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const stub = process.env.FLECS_URL ?? 'http://127.0.0.1:8200';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('FLECS', {
        source: './flecs-console.openapi.yaml',
        endpoint: stub,
        // A product page's type, not a union of it and the 500 answer's: @resolveTo's `result`
        // path cannot cross a union (`get_api_v2_products_response cannot have a path data.products`).
        ignoreErrorResponses: true,
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Afosto', {
        // by hand: facade afosto openapi --output afosto.openapi.json (ignored by git)
        source: process.env.AFOSTO_OPENAPI ?? './afosto.openapi.json',
        endpoint: `${stub}/afosto`,
        operationHeaders: { Authorization: '{context.headers.x-afosto-authorization}' },
        selectQueryOrMutationField: [
          { type: 'Query', fieldName: 'cat_searchGroupPrices' },
          { type: 'Query', fieldName: 'wms_searchInventory' },
        ],
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Ref', {
        source: './ref.openapi.yaml',
        endpoint: stub,
        queryStringOptions: { arrayFormat: 'comma' },
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type TenantStore {
      "the store's products: one FLECS page of \`first\` (FLECS lists one store_id a call)"
      products(first: Int): [product]
        @resolveTo(
          sourceName: "FLECS"
          sourceTypeName: "Query"
          sourceFieldName: "get_api_v2_products"
          requiredSelectionSet: "{ id }"
          sourceArgs: { store_id: "{root.id}", page: "1", per_page: "{args.first}" }
          result: "data.products"
        )
    }
  `,
});
