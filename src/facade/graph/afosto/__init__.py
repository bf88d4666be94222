"""The Afosto API's part of the graph: the generated types (`generated/types.py`) and what they
share (`scalars.py`). Not in the served schema yet: nothing outside this package and the tests
imports it.
"""
