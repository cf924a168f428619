"""The app factory: `build_app(settings, deps)` — no module-level apps or clients."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.orchestration.runner import Runner
from bot.settings import Settings
from bot.slack import mrkdwn
from bot.slack.listeners import alerts, decisions, fallback, mention
from bot.slack.middleware import errors
from bot.slack.middleware.sanitize import SanitizeBody
from bot.slack.poster import SlackPoster
from integrations.llm import LLM, AnthropicLLM, RedactingLLM
from integrations.redact import Redactor
from state.store import Store

log = logging.getLogger("droid.app")


@dataclass
class Deps:
    """What the listeners need."""

    settings: Settings
    store: Store
    client: WebClient
    poster: SlackPoster
    runner: Runner
    redact: Redactor


def build_client(settings: Settings) -> WebClient:
    """The Slack Web API client, with retries on connection errors, 429 (Retry-After) and 5xx."""
    return WebClient(token=settings.slack_bot_token or None, base_url=settings.slack_api_url,
                     retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                     RateLimitErrorRetryHandler(max_retry_count=3),
                                     ServerErrorRetryHandler(max_retry_count=2)])


def build_llm(settings: Settings) -> LLM | None:
    """The model, when a key is configured."""
    if not settings.anthropic_api_key:
        return None
    return AnthropicLLM(api_key=settings.anthropic_api_key, model=settings.anthropic_model,
                        base_url=settings.anthropic_base_url)


def build_deps(settings: Settings, *, llm: LLM | None = None, client: WebClient | None = None) -> Deps:
    """Open the database and build the client, poster and runner."""
    redact = Redactor(settings.secrets())
    mrkdwn.use_key(settings.slack_signing_secret)    # droid's own links survive a restart and cross workers
    store = Store.open(settings.db_path, redact)
    client = client or build_client(settings)
    poster = SlackPoster(client, redact)
    llm = llm if llm is not None else build_llm(settings)
    runner = Runner(settings, store, poster, RedactingLLM(llm, redact) if llm is not None else None, redact)
    return Deps(settings, store, client, poster, runner, redact)


def build_app(settings: Settings, deps: Deps) -> App:
    """The Bolt app with droid's middleware and listeners."""
    app = App(signing_secret=settings.slack_signing_secret or None,
              client=deps.client, token_verification_enabled=False, process_before_response=False,
              request_verification_enabled=bool(settings.slack_signing_secret), logger=log)
    app.use(SanitizeBody())    # after Bolt's signature check, before every listener
    errors.register(app, deps)
    mention.register(app, deps)
    decisions.register(app, deps)
    alerts.register(app, deps)
    fallback.register(app)
    errors.guard_listeners(app, deps)   # last: wraps every listener registered above
    return app
