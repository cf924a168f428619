"""The code-search engine behind `search_code` and `droid locate` (see skills/tools/search_code.py)."""
