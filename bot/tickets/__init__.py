"""Tickets as triggers: the Jira JQL poll, the Jira and GitHub webhooks, and the run each trigger starts."""
