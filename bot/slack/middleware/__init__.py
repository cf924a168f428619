"""Bolt middleware: one policy per file."""
