"""Backends: where data lives. The local store (SQL) and the upstream REST clients implement the
interfaces in `interfaces.py`; loaders are their only callers. Backends never import strawberry.
"""
