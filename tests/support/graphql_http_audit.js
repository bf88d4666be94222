// Runs graphql-http's server audits (the GraphQL-over-HTTP spec's conformance checks) against
// the URL given as the first argument and prints every result as JSON: [{id, name, status, reason}].
// Started by tests/app/test_http_server.py with NODE_PATH pointing at the pinned package.
const { serverAudits } = require("graphql-http");

async function main(url) {
  const results = await Promise.all(serverAudits({ url }).map((audit) => audit.fn()));
  const report = results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason || null }));
  process.stdout.write(JSON.stringify(report));
}

main(process.argv[2]).catch((error) => {
  console.error(error);
  process.exit(2);
});
