"""Local tools: the console, the demo, and the Slack and Sentry stand-ins they run against."""
