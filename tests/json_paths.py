"""Paths into JSON values, for the fuzz tests that mutate real payloads."""

from __future__ import annotations


def paths(value, prefix=()):
    """Every path into a JSON value (the root included)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from paths(child, (*prefix, key))


def get(value, path):
    """The value at `path`."""
    for key in path:
        value = value[key]
    return value


def put(value, path, new):
    """`value` with `new` at `path` (the root path replaces it)."""
    if not path:
        return new
    get(value, path[:-1])[path[-1]] = new
    return value
