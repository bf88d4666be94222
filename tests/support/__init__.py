"""Helpers for tests that drive real processes: the `facade` command and a headless Chromium.

Importable as `support` because tests/ is on sys.path (tests/conftest.py is a rootdir conftest).
"""
