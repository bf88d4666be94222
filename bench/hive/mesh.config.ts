// GraphQL Mesh composition of the FLECS Console OpenAPI document (the benchmark's copy, with the
// products list's page/per_page) into the supergraph Hive Gateway serves. bench/run.py runs
//   FLECS_URL=<stub> mesh-compose -o supergraph.graphql
// for each run, since the stub's address is part of the composed supergraph.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('FLECS', {
        source: './flecs-console.openapi.yaml',
        endpoint: process.env.FLECS_URL ?? 'http://127.0.0.1:8200',
      }),
    },
  ],
});
