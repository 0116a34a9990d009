"""Fixtures of the predictive tests. `trained_models` (every model kind trained once per session on the
session's demo data) lives in the root conftest.py, so other apps' tests can use it too."""
