"""Tests for droid."""
