"""Tickets: reading them, taking them in as runs, and writing back to them as the work goes on."""
