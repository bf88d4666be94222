"""The Afosto API: its contract (a copy of `shared/contracts/afosto/`), the generator that reads it
(`generate`, build time only), what the generator writes (`generated/`: the operation table and
the lean readers of the response bodies), and the client (`client`: one generic call for every
operation, routed as `afosto.call` in `backends/routes.py`).

May import facade's leaves (errors) and its own modules; never strawberry.
"""
