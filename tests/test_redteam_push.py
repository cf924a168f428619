"""Red team: a secret the change itself adds never leaves with the push.

The model never sees a secret (everything it reads is redacted), but a command it runs can copy one into
the tree it commits (`cp deploy/secrets.env notes.txt`, a test writing its credentials to a file), and
`git add -A` takes it. droid now refuses to push a branch whose added lines hold a secret, names the file
and line (never the value), and pushes what the repository already held unchanged.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.settings import Routing
from integrations.llm import AnthropicLLM
from integrations.workspace import GuardrailError, WorkspaceManager, commit_all, push_branch
from tests.canaries import CANARIES, leaks, planted
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub

KEY = "sk-ant-test-key-00000000000000000000"
SECRETS_FILE = "deploy/secrets.env"


def branches(origin: Path) -> str:
    return git(origin, "for-each-ref", "--format=%(refname)", "refs/heads/")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    seed = make_repo(tmp_path / "seed", {**SERVICE_FILES, SECRETS_FILE: planted() + "\n"})
    dest = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(dest)], check=True, capture_output=True)
    return dest


@pytest.fixture
def ws(tmp_path: Path, origin: Path):
    return WorkspaceManager(tmp_path / "droid").create(str(origin), "r1", "fix retries")


@pytest.mark.parametrize("kind", ["github_pat", "private_key", "url_credentials", "env_secret", "aws_secret"])
def test_a_branch_that_adds_a_secret_is_not_pushed(ws, origin, kind):
    (ws.path / "notes").mkdir()
    (ws.path / "notes" / "debug.txt").write_text("first line\nsecond\n" + CANARIES[kind][0] + "\nlast\n")
    commit_all(ws, "notes")
    before = branches(origin)
    with pytest.raises(GuardrailError) as refused:
        push_branch(ws)
    assert "notes/debug.txt line 3" in str(refused.value) and not leaks(str(refused.value))
    assert branches(origin) == before


def test_copying_the_repositorys_own_secrets_file_is_refused_too(ws, origin):
    (ws.path / "leaked.env").write_text((ws.path / SECRETS_FILE).read_text())
    commit_all(ws, "copy")
    with pytest.raises(GuardrailError, match="leaked.env"):
        push_branch(ws)


def test_secrets_the_repository_already_held_do_not_block_an_ordinary_change(ws, origin):
    sender = ws.path / "webhooks" / "sender.py"
    sender.write_text(sender.read_text() + "\n# retries are bounded\n")
    (ws.path / "tests_data.py").write_text('TOKEN = "your-token-here"\npassword = os.environ["DB_PASSWORD"]\n')
    sha = commit_all(ws, "bounded retries")
    push_branch(ws)
    assert git(origin, "rev-parse", f"refs/heads/{ws.branch}").strip() == sha


PLAN = {"goal": "Bound the webhook retries", "steps": [{"title": "Look at the sender"}, {"title": "Bound retries"}],
        "touches": ["webhooks/sender.py"], "risks": ["none"]}


def test_through_the_app_the_run_says_why_and_github_never_gets_the_secret(tmp_path, fixtures_dir):
    seed = make_repo(tmp_path / "seed", {**SERVICE_FILES, SECRETS_FILE: planted() + "\n"})
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp_path / "gh") as github:
        hosted = github.host("acme/service", seed, default_branch="main")
        llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
        droid = Droid(tmp_path, llm=llm, anthropic_url=model.url, routing=Routing(default_repo="acme/service"),
                      github_token=github.token, github_api_url=github.url, github_url=github.url,
                      workspace_dir=str(tmp_path / "workspaces"))
        try:
            model.add(Turn.tool_use("submit_plan", PLAN),
                      Turn.tool_use("run", {"command": f"cp {SECRETS_FILE} webhooks/settings_dump.txt"}),
                      Turn.tool_use("edit_file", {"path": "webhooks/sender.py", "command": "str_replace",
                                                  "old_str": "def ", "new_str": "def "}),
                      Turn.tool_use("final_answer", {"text": "Bounded the retries."}))
            _, ts = droid.mention("fix the webhook sender: bound the retries")
            run = droid.run_for("CDEV", ts)
            plan = droid.plan_post(timeout=60)
            droid.click("droid_approve", droid.buttons(plan)["droid_approve"])
            run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=120)
            wait_for(lambda: not droid.store.outbox.pending(), what="outbox drained")
            said = " ".join(p["text"] + str(p.get("blocks")) for p in droid.posts())
            assert "looks like a secret" in said and "settings_dump.txt" in said, said[-2000:]
            assert not github.pulls.get("acme/service"), "no pull request for a refused push"
            assert branches(hosted).split() == ["refs/heads/main"], "nothing was pushed"
            assert "settings_dump" not in git(hosted, "log", "--all", "--name-only", "--format=%H")
            assert not leaks(said), "the refusal names the file, never the value"
        finally:
            droid.close()
