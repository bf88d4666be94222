"""The GraphiQL page served at /graphql to browsers, from vendored assets (no CDN needed), opened
on an example operation from the playground."""

from __future__ import annotations

import html
import json

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>facade · GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="{static}/graphiql.min.css">
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <!-- Before the script that reads it: an inline script runs as soon as it is parsed. -->
  <script type="application/json" id="facade-config">{config}</script>
  <script src="{static}/react.production.min.js"></script>
  <script src="{static}/react-dom.production.min.js"></script>
  <script src="{static}/graphiql.min.js"></script>
  <script>
    const config = JSON.parse(document.getElementById("facade-config").textContent);
    const fetcher = GraphiQL.createFetcher({{ url: config.endpoint }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultQuery: config.query,
        defaultHeaders: config.headers,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
      }})
    );
  </script>
</body>
</html>
"""


def graphiql_page(endpoint: str, static: str, query: str, headers: str = "") -> str:
    config = json.dumps({"endpoint": endpoint, "query": query, "headers": headers})
    # The config sits in a JSON script block: escape what could close it early.
    config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _PAGE.format(static=html.escape(static, quote=True), config=config)
