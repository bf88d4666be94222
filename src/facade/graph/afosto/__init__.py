"""The Afosto API's part of the graph: the root `afosto` field (`queries.py`), the generated
types, fields and text sizes (`generated/`), the one road every generated resolver takes
(`calls.py`), the rules of its arguments (`rules.py`) and the scalars its types share
(`scalars.py`).
"""
