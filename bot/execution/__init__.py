"""Execution: the agent loop, shipping a change, and the worker side (Celery) with its event channel."""
