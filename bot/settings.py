"""Settings: read once from the environment (and an optional routing file) into one typed object."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

SECRET_FIELDS = {
    "slack_bot_token", "slack_signing_secret", "slack_app_token", "anthropic_api_key",
    "github_token", "jira_token", "sentry_token", "sentry_webhook_secret",
    "jira_webhook_secret", "jira_server_webhook_token", "github_webhook_secret",
}


class SettingsError(ValueError):
    """Every problem found in the configuration, listed in one message."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("droid is not configured correctly:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Routing:
    """Which channels map to which repositories, which are alert channels, who may approve."""

    channel_repos: dict[str, str] = field(default_factory=dict)
    default_repo: str | None = None
    github_repos: dict[str, str] = field(default_factory=dict)   # channel -> owner/name, when the repo is not a GitHub URL
    default_github_repo: str | None = None
    alert_channels: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    alert_bots: tuple[str, ...] = ()                              # bot ids / app names whose alerts are read
    sentry_projects: dict[str, str] = field(default_factory=dict)  # Sentry project slug -> alert channel
    jira_project: str | None = None                                # where "Create Jira ticket" files tickets
    channel_approvers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # channel -> extra approvers
    channel_repo_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # channel -> its repos (first = default)
    repo_github: dict[str, str] = field(default_factory=dict)       # repo (path or URL) -> GitHub owner/name
    jira_projects: dict[str, str] = field(default_factory=dict)     # Jira project key -> channel for its tickets
    ticket_repos: dict[str, str] = field(default_factory=dict)      # ticket component or label -> repo

    def reads_alerts_from(self, message: dict) -> bool:
        """Whether a bot message comes from a configured alert integration (default: Sentry's app)."""
        profile = message.get("bot_profile") or {}
        names = {message.get("bot_id"), message.get("app_id"), profile.get("app_id"), profile.get("name"),
                 message.get("username")} - {None}
        if self.alert_bots:
            return bool(names & set(self.alert_bots))
        return any("sentry" in str(name).lower() for name in names)

    def repo_for(self, channel: str) -> str | None:
        """The repository (path or URL) mapped to a channel, else the default."""
        return self.channel_repos.get(channel, self.default_repo)

    def approvers_for(self, channel: str) -> tuple[str, ...]:
        """Who may decide on runs in a channel besides the requester: global plus per-channel approvers."""
        return self.approvers + self.channel_approvers.get(channel, ())

    def acts_in(self, channel: str) -> bool:
        """droid acts only in channels mapped to a repository, alert channels, or under `default_repo`."""
        return bool(self.default_repo or channel in self.channel_repos or channel in self.alert_channels
                    or channel in self.sentry_projects.values())

    def github_repo_for(self, channel: str) -> str | None:
        """The GitHub owner/name pull requests go to for a channel, when configured explicitly."""
        return self.github_repos.get(channel, self.default_github_repo)

    def repos_for(self, channel: str) -> tuple[str, ...]:
        """Every repository a channel works on (the `repos:` list, else its one repo, else the default)."""
        if channel in self.channel_repo_lists:
            return self.channel_repo_lists[channel]
        repo = self.repo_for(channel)
        return (repo,) if repo else ()

    def github_for_repo(self, repo: str | None) -> str | None:
        """The GitHub owner/name configured for one repository of a multi-repo channel, if any."""
        return self.repo_github.get(repo or "")

    def channel_for_jira_project(self, project: str) -> str | None:
        """The channel a Jira project's tickets are posted to (`jira_projects` in DROID_CONFIG)."""
        return self.jira_projects.get(project)

    def channel_for_github_repo(self, full_name: str) -> str | None:
        """The channel mapped to a GitHub owner/name (a channel's `github:`, or a repo entry's `github:`)."""
        wanted = full_name.lower()
        for channel, name in self.github_repos.items():
            if name.lower() == wanted:
                return channel
        for repo, name in self.repo_github.items():
            if name.lower() == wanted:
                return next((ch for ch, repos in self.channel_repo_lists.items() if repo in repos),
                            next((ch for ch, r in self.channel_repos.items() if r == repo), None))
        return None


@dataclass(frozen=True)
class Settings:
    """droid's whole configuration. Build with `Settings.from_env()`."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    anthropic_api_key: str = ""
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_model: str = "claude-sonnet-4-5"
    github_token: str = ""
    github_api_url: str = "https://api.github.com"
    github_url: str = "https://github.com"
    jira_url: str = ""
    jira_user: str = ""
    jira_token: str = ""
    sentry_url: str = "https://sentry.io"
    sentry_token: str = ""
    sentry_org: str = ""
    sentry_webhook_secret: str = ""
    db_path: str = "droid.db"
    workspace_dir: str = "~/.cache/droid/workspaces"
    protected_branches: tuple[str, ...] = ()
    test_timeout: int = 900
    host: str = "0.0.0.0"
    port: int = 3000
    workers: int = 4
    max_steps: int = 30
    max_tokens: int = 400_000
    max_cost_usd: float = 5.0
    max_wall_seconds: int = 1800
    max_tool_errors: int = 5
    broker_url: str = ""              # redis://… : execution on `droid worker` processes instead of in-process
    max_attempts: int = 3             # executions of one approved plan before the run fails (worker lost)
    status_interval: float = 2.0
    plan_expiry_hours: float = 24.0
    rca_cooldown_minutes: float = 30.0
    rca_needs_approval: bool = False
    webhook_max_age_seconds: int = 300
    # tickets: intake (Jira poll + webhooks, GitHub issue webhooks) and what droid writes back
    jira_jql: str = "labels = droid AND statusCategory != Done"
    jira_poll_seconds: int = 300          # 0 turns the JQL poll off
    jira_webhook_secret: str = ""         # Jira Cloud admin webhook secret: HMAC-SHA256 in X-Hub-Signature
    jira_server_webhook_token: str = ""   # Jira Server/DC (unsigned): accepted only at /jira/webhook/<token>
    github_webhook_secret: str = ""       # X-Hub-Signature-256
    ticket_label: str = "droid"           # the label that hands a Jira ticket or a GitHub issue to droid
    jira_transition_on_approve: str = ""  # a transition name, e.g. "In Progress" ("" = none)
    jira_transition_on_review: str = ""   # e.g. "In Review", when the pull request is open ("" = none)
    conventions_file: str = ""            # an org-wide conventions file read with each repository's own
    config_file: str = ""
    routing: Routing = field(default_factory=Routing)

    @property
    def has_model(self) -> bool:
        """True when a model API key is configured."""
        return bool(self.anthropic_api_key)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """The secret values, for the redactor."""
        return [getattr(self, name) for name in SECRET_FIELDS if getattr(self, name)]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, require_slack: bool = False) -> Settings:
        """Read and validate settings; raise SettingsError listing every problem."""
        env = dict(os.environ if env is None else env)
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name, (var, kind) in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                problems.append(f"{var}={raw!r} is not a valid {getattr(kind, '__name__', 'value')}")
        values["routing"] = _load_routing(values.get("config_file", ""), problems)
        if values.get("ticket_label") and "jira_jql" not in values:     # the default JQL follows the label
            values["jira_jql"] = default_jql(values["ticket_label"])
        settings = cls(**values)
        problems += settings._problems(require_slack)
        if problems:
            raise SettingsError(problems)
        return settings

    def _problems(self, require_slack: bool) -> list[str]:
        problems = []
        if require_slack and not self.slack_bot_token:
            problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…, from OAuth & Permissions)")
        if require_slack and not self.slack_signing_secret and not self.slack_app_token:
            problems.append("SLACK_SIGNING_SECRET is not set (Basic Information → App Credentials); "
                            "or set SLACK_APP_TOKEN for Socket Mode")
        if self.slack_app_token and not self.slack_app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        for name in ("slack_api_url", "anthropic_base_url", "github_api_url", "github_url", "sentry_url"):
            if not str(getattr(self, name)).startswith(("http://", "https://")):
                problems.append(f"{_var(name)} must be an http(s) URL, got {getattr(self, name)!r}")
        if self.jira_url and not self.jira_url.startswith(("http://", "https://")):
            problems.append(f"JIRA_URL must be an http(s) URL, got {self.jira_url!r}")
        if self.jira_url and not (self.jira_user and self.jira_token):
            problems.append("JIRA_URL is set but JIRA_USER / JIRA_API_TOKEN are not")
        if self.sentry_token and not self.sentry_org:
            problems.append("SENTRY_AUTH_TOKEN is set but SENTRY_ORG is not")
        if self.broker_url and not self.broker_url.startswith(("redis://", "rediss://")):
            problems.append(f"DROID_BROKER_URL must be a redis:// URL, got {self.broker_url!r}")
        for name in ("workers", "max_steps", "max_tokens", "max_wall_seconds", "max_tool_errors", "max_attempts"):
            if getattr(self, name) <= 0:
                problems.append(f"{_var(name)} must be positive")
        if not 0 <= self.port <= 65535:
            problems.append("PORT must be a TCP port, 0-65535 (0 picks a free one)")
        return problems


def default_jql(label: str) -> str:
    """The poll's JQL when DROID_JIRA_JQL is unset: open tickets carrying the ticket label."""
    if re.fullmatch(r"\w+", label):
        return f"labels = {label} AND statusCategory != Done"
    quoted = label.replace("\\", "\\\\").replace('"', '\\"')
    return f'labels = "{quoted}" AND statusCategory != Done'


def _load_routing(path: str, problems: list[str]) -> Routing:
    if not path:
        return Routing()
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"DROID_CONFIG {path!r} cannot be read: {exc}")
        return Routing()
    if not isinstance(data, dict):
        problems.append(f"DROID_CONFIG {path!r} must be a mapping")
        return Routing()
    channels = data.get("channels") or {}
    if not isinstance(channels, dict):
        problems.append("DROID_CONFIG: `channels` must map channel IDs to {repo: ...}")
        channels = {}
    repos = {str(ch): str(v.get("repo") if isinstance(v, dict) else v) for ch, v in channels.items()
             if (v.get("repo") if isinstance(v, dict) else v)}
    github = {str(ch): str(v["github"]) for ch, v in channels.items() if isinstance(v, dict) and v.get("github")}
    approvers = {str(ch): tuple(str(u) for u in v["approvers"]) for ch, v in channels.items()
                 if isinstance(v, dict) and v.get("approvers")}
    repo_lists, repo_github = _repo_lists(channels, problems)
    for channel, listed in repo_lists.items():
        repos.setdefault(channel, listed[0])
    return Routing(
        channel_repos=repos,
        default_repo=data.get("default_repo"),
        github_repos=github,
        default_github_repo=data.get("default_github"),
        alert_channels=tuple(str(c) for c in data.get("alert_channels") or ()),
        approvers=tuple(str(u) for u in data.get("approvers") or ()),
        alert_bots=tuple(str(b) for b in data.get("alert_bots") or ()),
        sentry_projects={str(k): str(v) for k, v in (data.get("sentry_projects") or {}).items()},
        jira_project=data.get("jira_project"),
        channel_approvers=approvers,
        channel_repo_lists=repo_lists,
        repo_github=repo_github,
        jira_projects={str(k): str(v) for k, v in (data.get("jira_projects") or {}).items()},
        ticket_repos={str(k): str(v) for k, v in (data.get("ticket_repos") or {}).items()},
    )


def _repo_lists(channels: dict, problems: list[str]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """`channels: {C1: {repos: [a, {repo: b, github: acme/b}]}}` → (channel → repos, repo → GitHub name)."""
    lists: dict[str, tuple[str, ...]] = {}
    github: dict[str, str] = {}
    for channel, value in channels.items():
        entries = value.get("repos") if isinstance(value, dict) else None
        if entries is None:
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(f"DROID_CONFIG: channels.{channel}.repos must be a non-empty list")
            continue
        names = []
        for entry in entries:
            repo = entry.get("repo") if isinstance(entry, dict) else entry
            if not repo:
                problems.append(f"DROID_CONFIG: channels.{channel}.repos has an entry without a repo")
                continue
            names.append(str(repo))
            if isinstance(entry, dict) and entry.get("github"):
                github[str(repo)] = str(entry["github"])
        if names:
            lists[str(channel)] = tuple(names)
    return lists, github


# field name -> (environment variable, parser)
ENV_VARS: dict[str, tuple[str, object]] = {
    "slack_bot_token": ("SLACK_BOT_TOKEN", str),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET", str),
    "slack_app_token": ("SLACK_APP_TOKEN", str),
    "slack_api_url": ("SLACK_API_URL", str),
    "anthropic_api_key": ("ANTHROPIC_API_KEY", str),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL", str),
    "anthropic_model": ("DROID_MODEL", str),
    "github_token": ("GITHUB_TOKEN", str),
    "github_api_url": ("GITHUB_API_URL", str),
    "github_url": ("GITHUB_URL", str),
    "jira_url": ("JIRA_URL", str),
    "jira_user": ("JIRA_USER", str),
    "jira_token": ("JIRA_API_TOKEN", str),
    "sentry_url": ("SENTRY_URL", str),
    "sentry_token": ("SENTRY_AUTH_TOKEN", str),
    "sentry_org": ("SENTRY_ORG", str),
    "sentry_webhook_secret": ("SENTRY_WEBHOOK_SECRET", str),
    "db_path": ("DROID_DB", str),
    "workspace_dir": ("DROID_WORKSPACES", str),
    "protected_branches": ("DROID_PROTECTED_BRANCHES", lambda v: tuple(b.strip() for b in v.split(",") if b.strip())),
    "test_timeout": ("DROID_TEST_TIMEOUT", int),
    "host": ("DROID_HOST", str),
    "port": ("PORT", int),
    "workers": ("DROID_WORKERS", int),
    "max_steps": ("DROID_MAX_STEPS", int),
    "max_tokens": ("DROID_MAX_TOKENS", int),
    "max_cost_usd": ("DROID_MAX_COST_USD", float),
    "max_wall_seconds": ("DROID_MAX_WALL_SECONDS", int),
    "max_tool_errors": ("DROID_MAX_TOOL_ERRORS", int),
    "broker_url": ("DROID_BROKER_URL", str),
    "max_attempts": ("DROID_MAX_ATTEMPTS", int),
    "status_interval": ("DROID_STATUS_INTERVAL", float),
    "plan_expiry_hours": ("DROID_PLAN_EXPIRY_HOURS", float),
    "rca_cooldown_minutes": ("DROID_RCA_COOLDOWN_MINUTES", float),
    "rca_needs_approval": ("DROID_RCA_NEEDS_APPROVAL", lambda v: v.strip().lower() in ("1", "true", "yes")),
    "webhook_max_age_seconds": ("DROID_WEBHOOK_MAX_AGE_SECONDS", int),
    "jira_jql": ("DROID_JIRA_JQL", str),
    "jira_poll_seconds": ("DROID_JIRA_POLL_SECONDS", int),
    "jira_webhook_secret": ("JIRA_WEBHOOK_SECRET", str),
    "jira_server_webhook_token": ("JIRA_SERVER_WEBHOOK_TOKEN", str),
    "github_webhook_secret": ("GITHUB_WEBHOOK_SECRET", str),
    "ticket_label": ("DROID_TICKET_LABEL", str),
    "jira_transition_on_approve": ("DROID_JIRA_TRANSITION_ON_APPROVE", str),
    "jira_transition_on_review": ("DROID_JIRA_TRANSITION_ON_REVIEW", str),
    "conventions_file": ("DROID_CONVENTIONS_FILE", str),
    "config_file": ("DROID_CONFIG", str),
}


def _var(name: str) -> str:
    return ENV_VARS[name][0]
