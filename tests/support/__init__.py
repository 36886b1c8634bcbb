"""Helpers shared by the tests and the load tests (never installed with the product)."""
