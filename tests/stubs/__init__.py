"""tests/stubs package."""
