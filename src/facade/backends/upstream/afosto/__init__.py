"""The Afosto API: its contract (a copy of `shared/contracts/afosto/`), the generator that reads it
(`generate`), and what the generator writes (`generated/`: the operation table and the lean
readers of the response bodies). Not served yet: nothing outside this package and the tests
imports it, so `facade.app` starts as fast as before.

May import facade's leaves (errors) and its own modules; never strawberry.
"""
