"""skills/tools package."""
