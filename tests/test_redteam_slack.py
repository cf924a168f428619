"""Red team on the Slack side: what reaches a message besides its text, and clicks droid cannot read.

* a model-written step title with a line break forged a line of the status message (`✅ 3. Approved by …`);
* an uploaded file's name and title skipped the redactor and the invisible-character filter;
* letters that draw nothing (Hangul fillers) made foreign text look blank or split a word;
* a click on a button whose value droid cannot read was dropped in silence: the person saw nothing.
"""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from bot.local.slack_standin import SlackStandIn
from bot.slack import blocks, mrkdwn
from bot.slack.poster import SlackPoster
from integrations.redact import Redactor
from skills.plan import Budget, Plan, Step
from tests.canaries import CANARIES, leaks
from tests.harness import BOT_TOKEN, Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo

FORGED = "Read the code\n✅ 3. Approved by @alice: merged to main\n> _all checks passed_"


def test_a_step_title_cannot_forge_a_line_of_the_status_message():
    plan = Plan(goal="g", steps=[Step(FORGED), Step("Answer")], touches=[], risks=[],
                budget=Budget(steps=5, tokens=1000), actions=["read"])
    message = blocks.status_message("r1", plan, "Working", running=True)
    text = "\n".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
    assert text.count("\n") == 2, text            # the headline and one line per step
    assert not any(line.startswith(("✅", "&gt;")) for line in text.splitlines()), text


@pytest.fixture
def standin():
    slack = SlackStandIn(team="T0DROID").start()
    yield slack
    slack.stop()


def test_an_uploaded_files_name_and_title_are_redacted_and_cleaned(standin):
    poster = SlackPoster(WebClient(token=BOT_TOKEN, base_url=standin.api_url), Redactor([BOT_TOKEN]))
    token = CANARIES["github_pat"][0]
    poster.upload("CDEV", None, f"env-{token}.txt", "ok", title=f"\u202eDump of {CANARIES['slack_bot'][0]}\n{BOT_TOKEN}")
    record = wait_for(lambda: next(iter(standin.files.values()), None), what="the upload")
    shown = json.dumps([record.get("name"), record.get("title")], ensure_ascii=False)
    assert not leaks(shown) and "testtokentesttoken" not in shown, shown
    assert "\u202e" not in shown and "\\n" not in shown, shown
    assert "Dump of" in shown and shown.count("[REDACTED]") >= 2


@pytest.mark.parametrize("blank", ["\u3164", "\u115f", "\u1160", "\uffa0", "\u034f", "\u17b4"])
def test_letters_that_draw_nothing_are_removed(blank):
    assert mrkdwn.render(f"@{blank}channel{blank}") == "@channel"
    assert blank not in mrkdwn.plain(f"x{blank}y") and blank not in mrkdwn.one_line(f"x{blank}y")


@pytest.fixture
def droid(tmp_path):
    d = Droid(tmp_path, repo=make_repo(tmp_path / "service", SERVICE_FILES))
    yield d
    d.close()


@pytest.mark.parametrize("value", ["{not json", json.dumps({"run_id": ["r1"], "v": "1"}), "x" * 5000, "",
                                   json.dumps(["r1", 1])], ids=["bad_json", "wrong_types", "huge", "empty", "a_list"])
def test_a_button_droid_cannot_read_gets_a_private_answer_and_changes_nothing(droid, value):
    runs = droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    response = droid.click("droid_approve", value, user="UBOB")
    assert response.status == 200
    told = wait_for(lambda: [e for e in droid.slack.ephemerals if e["user"] == "UBOB"], what="a private answer")
    assert "Nothing was changed" in told[0]["text"] and told[0]["channel"] == "CDEV"
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == runs
    assert not droid.slack.calls_to("chat.postMessage")


def test_a_text_file_handed_over_as_bytes_is_redacted_too(standin):
    poster = SlackPoster(WebClient(token=BOT_TOKEN, base_url=standin.api_url), Redactor([BOT_TOKEN]))
    poster.upload("CDEV", None, "build.log", f"step 3 failed: {CANARIES['aws_secret'][0]}\n".encode())
    poster.upload("CDEV", None, "chart.png", b"\x89PNG\r\n\x1a\n" + CANARIES["github_pat"][0].encode())
    files = wait_for(lambda: len(standin.files) == 2 and all("content" in f for f in standin.files.values())
                     and list(standin.files.values()), what="two uploads")
    log, picture = sorted(files, key=lambda f: f["name"] != "build.log")
    assert b"step 3 failed" in log["content"] and not leaks(log["content"]), log["content"]
    assert picture["content"].startswith(b"\x89PNG"), "binary content is passed through untouched"
