"""The Slack surface: the app, listeners, middleware, Block Kit, escaping, the poster, HTTP ingress."""
