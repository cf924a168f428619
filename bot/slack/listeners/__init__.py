"""Bolt listeners: thin — parse, call state or the runner, post."""
