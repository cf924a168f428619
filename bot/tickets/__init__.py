"""Tickets: taking them in as runs (the Jira poll, the Jira and GitHub webhooks) and writing back to them."""
