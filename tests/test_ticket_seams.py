"""The seams between the ticket parts that need no whole app: the poll's default JQL and the label, where a local
checkout with a `github:` name pushes, the README's Tickets example against the routing parser, and what
`droid doctor` checks of the ticket routing."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from tests.repos import make_repo
from tests.test_ticket_scenarios import PAYMENTS


def test_the_default_jql_follows_the_ticket_label():
    assert Settings.from_env({}).jira_jql == "labels = droid AND statusCategory != Done"
    assert Settings.from_env({"DROID_TICKET_LABEL": "agent"}).jira_jql == "labels = agent AND statusCategory != Done"
    assert Settings.from_env({"DROID_TICKET_LABEL": "ai.fix"}).jira_jql == 'labels = "ai.fix" AND statusCategory != Done'
    chosen = {"DROID_TICKET_LABEL": "agent", "DROID_JIRA_JQL": "project = PAY AND labels = agent"}
    assert Settings.from_env(chosen).jira_jql == "project = PAY AND labels = agent"


def test_a_local_checkout_with_a_github_name_pushes_where_its_pull_request_is():
    from bot.execution.finish import push_target
    from integrations.workspace import Workspace
    ws = Workspace(path=Path("/w"), branch="droid/PAY-1-x-r1", base_branch="main", base_commit="0" * 40,
                   source="/srv/repos/web", remote_url="/srv/repos/web")
    settings = Settings(github_token="ghp_x", github_url="https://ghe.example/github")
    moved = push_target(settings, ws, "acme/web")
    assert (moved.remote_url, moved.auth_url) == ("https://ghe.example/github/acme/web.git", "https://ghe.example/github/")
    assert push_target(Settings(), ws, "acme/web") is ws                     # no token: nothing to push to GitHub with
    assert push_target(settings, ws, "/srv/repos/web") is ws                 # no GitHub target: the source
    on_github = Workspace(**{**ws.__dict__, "source": "acme/web",
                             "remote_url": "https://ghe.example/github/acme/web.git"})
    assert push_target(settings, on_github, "ACME/web") is on_github


def test_the_readme_tickets_example_is_what_droid_reads(tmp_path):
    import re

    from bot.settings import ENV_VARS
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Tickets\n", 1)[1].split("\n### ", 1)[0]
    config = tmp_path / "droid.yml"
    config.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    routing = Settings.from_env({"DROID_CONFIG": str(config)}).routing
    assert routing.channel_for_jira_project("PAY") == "C0123PAY"
    assert routing.repos_for("C0123PAY") == ("/srv/repos/payments", "/srv/repos/web")
    assert routing.github_for_repo("/srv/repos/web") == "acme/web"
    assert routing.channel_for_github_repo("acme/web") == "C0789WEB"
    assert routing.ticket_repos == {"Storefront": "web", "Refunds": "payments"}
    assert routing.approvers_for("C0123PAY") == ("U0BOSS", "U0PAYLEAD")
    named = set(re.findall(r"`((?:DROID|JIRA|GITHUB)_[A-Z_]+)`", section))
    known = {var for var, _ in ENV_VARS.values()}
    assert named and named <= known, named - known
    assert all(f"| `{var}`" in readme or f"`{var}` /" in readme or f"/ `{var}`" in readme for var in named)


def test_doctor_checks_the_ticket_routing_and_every_repo_of_a_channel(tmp_path):
    from bot.doctor import check_port, check_repos, check_tickets
    from bot.settings import Routing
    pay, web = make_repo(tmp_path / "payments", PAYMENTS), tmp_path / "web-missing"
    good = Routing(channel_repos={"CPAY": str(pay)}, channel_repo_lists={"CPAY": (str(pay), str(web))},
                   repo_github={str(web): "acme/web"}, jira_projects={"PAY": "CPAY"},
                   ticket_repos={"Storefront": "acme/web", "Refunds": "payments"})
    assert check_tickets(Settings(routing=good))[0] == "✓"
    state, text = check_repos(Settings(routing=good, workspace_dir=str(tmp_path / "ws")))
    assert state == "✗" and "web-missing does not exist" in text           # the channel's second repository too
    bad = Routing(channel_repos={"CPAY": str(pay)}, jira_projects={"PAY": "CPAY", "OPS": "COPS"},
                  ticket_repos={"Storefront": "web"})
    state, text = check_tickets(Settings(routing=bad))
    assert state == "✗" and "OPS → COPS: that channel has no repository" in text and "`web` is no channel's" in text
    assert check_tickets(Settings())[0] == "–"
    socket_mode = Settings(slack_app_token="xapp-1-abc", jira_webhook_secret="s", port=0)
    assert check_port(socket_mode)[1].startswith("port 0")                 # ticket webhooks need the HTTP port
