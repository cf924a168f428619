"""Text droid did not write is shown, never obeyed: a hostile-markup corpus through every builder and the app."""

from __future__ import annotations

import copy
import json
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from bot.settings import Routing
from bot.slack import blocks, mrkdwn
from skills.plan import Budget, Plan, Step
from skills.rca import report
from skills.rca.evidence import Evidence, FrameEvidence, SuspectCommit, SuspectLocation
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo

HOSTILE = [
    "<!channel> deploy is broken",
    "<!here|here> look <!everyone>",
    "<!subteam^S123|@team> please review",
    "ping <@U0BOSS> and <@W0BOSS|boss> in <#C0SECRET|secret>",
    "<https://evil.example|https://github.com/acme/pay/pull/1>",
    "<https://evil.example/phish> and <https://github.com@evil.example/x|https://github.com/acme/pay>",
    "<javascript:alert(1)|click me> <mailto:a@evil.example|mail>",
    "[the PR](https://evil.example/pr) and [ok](javascript:alert(1))",
    "```\n<!channel>\n``` out of the fence",
    "`x` ``y`` `<!here>` ````",
    "\u202e<!channel>\u202c txt.exe \u2066rtl\u2069 \u200e\u200f\u200b\ufeff\U000e0041",
    "&lt;!channel&gt; &amp;lt;!here&amp;gt; &#60;!everyone&#62;",
    "<!date^1392734382^{date}|fallback> <!channel|ch>",
    "half open <!channel and > stray",
]
CORPUS = "\n".join(HOSTILE)
LONG = "y" * 30_000 + " <!channel> " + "z" * 5_000
INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f"
                       "\ue000-\uf8ff]")
TOKEN = re.compile(r"<([^<>]*)>")
ALLOWED_HOSTS = ("github.com", "sentry.io")


def short_id(text: str) -> str:
    """A readable test id for a corpus entry."""
    return repr(text[:24]) + (f"+{len(text) - 24}" if len(text) > 24 else "")


def inert(text: str, *, mentions=(), links=()) -> list[str]:
    """What in one mrkdwn string would notify, disguise or obey: empty when it is safe."""
    problems = []
    if INVISIBLE.search(text):
        problems.append("invisible/direction character")
    for match in TOKEN.finditer(text):
        inner = match.group(1)
        if inner.startswith("@"):
            if inner[1:] not in mentions:
                problems.append(f"mention {match.group(0)}")
            continue
        url, _, label = inner.partition("|")
        host = urlsplit(url).hostname or ""
        if not url.startswith(("https://", "http://")) or "evil" in url:
            problems.append(f"link {match.group(0)}")
        elif url not in links and (not any(host == h or host.endswith("." + h) for h in ALLOWED_HOSTS)
                                   or label not in ("", url)):
            problems.append(f"link {match.group(0)}")
    rest = TOKEN.sub("", text)
    if "<" in rest or ">" in rest:
        problems.append(f"unescaped angle bracket in {rest[:80]!r}")
    return problems


def assert_inert(obj, *, mentions=(), links=(), where="message") -> None:
    """Walk text, blocks, views: mrkdwn strings must be inert, plain_text free of invisibles."""
    problems = []

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "plain_text":
                if INVISIBLE.search(node.get("text", "")):
                    problems.append((path, "invisible character in plain_text"))
                return
            for key, value in node.items():
                if key not in ("value", "private_metadata", "action_id", "block_id", "callback_id"):
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str):
            problems.extend((path, p) for p in inert(node, mentions=mentions, links=links))

    walk(obj, where)
    assert not problems, problems[:5]


def assert_slack_inert(droid, *, mentions=(), links=()) -> None:
    """Every message, edit, ephemeral, view and file title droid sent to the Slack stand-in."""
    for call in droid.slack.calls:
        args = {k: v for k, v in call.args.items() if k in ("text", "blocks", "view", "files", "title")}
        assert_inert(args, mentions=mentions, links=links, where=call.method)


def fences_hold(markdown: str) -> bool:
    """Every fence-like line is a bare ``` and they pair up: quoted content never opened or closed one."""
    fences = [line for line in markdown.splitlines() if re.match(r"^ {0,3}(`{3,}|~{3,})", line)]
    return all(f == "```" for f in fences) and len(fences) % 2 == 0


# -- the module ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [*HOSTILE, CORPUS, LONG], ids=short_id)
def test_render_escapes_everything_foreign(text):
    out = mrkdwn.render(text)
    assert not inert(out), inert(out)
    assert "&lt;!channel" in out or "<!channel" not in text


def test_escape_is_slacks_three_entities_and_no_double_unescape():
    assert mrkdwn.escape("a & b < c > d \"q\" 'q'") == "a &amp; b &lt; c &gt; d \"q\" 'q'"
    assert mrkdwn.render("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"     # shown as typed, not decoded


def test_direction_overrides_and_invisibles_are_removed_but_emoji_joiners_kept():
    assert mrkdwn.clean("a\u202egnp.exe\u202c\u2066x\u2069\u200e\u200f\u200b\ufeff\U000e0041") == "agnp.exex"
    assert mrkdwn.clean("👩\u200d💻 line\r\nnext\u2028end") == "👩\u200d💻 line\nnext\nend"


def test_every_invisible_code_point_of_this_python_is_removed():
    import sys
    import unicodedata
    invisible = [chr(c) for c in range(sys.maxunicode + 1)
                 if unicodedata.category(chr(c)) in ("Cf", "Cc", "Co", "Cs") and chr(c) not in "\n\t\u200d"]
    assert mrkdwn.clean("".join(invisible)) == ""
    kept = "Grüße 你好 مرحبا ✅ 👩\u200d💻 \t\n"
    assert mrkdwn.clean(kept) == kept


def test_droid_links_and_mentions_survive_strings_but_not_forgery():
    token = mrkdwn.link("https://github.com/acme/pay/pull/7", "Pull request")
    text = f"{token} by {mrkdwn.mention('UALICE')} — " + "<@UBOSS>"
    assert mrkdwn.render(text) == "<https://github.com/acme/pay/pull/7|Pull request> by <@UALICE> — &lt;@UBOSS&gt;"
    forged = re.sub(r"[0-9a-f]{16}", "0" * 16, token).replace("github.com/acme/pay/pull/7", "evil.example")
    assert "<" not in mrkdwn.render(forged)
    tampered = token.replace("pull/7", "pull/8")
    assert mrkdwn.render(tampered) == "Pull request (https://github.com/acme/pay/pull/8)"
    assert mrkdwn.plain(text) == "Pull request (https://github.com/acme/pay/pull/7) by @UALICE — <@UBOSS>"


def test_link_and_mention_refuse_what_droid_cannot_vouch_for():
    assert mrkdwn.render(mrkdwn.link("javascript:alert(1)", "x")) == "x (javascript:alert(1))"
    assert mrkdwn.render(mrkdwn.link("https://x.example/a|b", "A <b> & c")) == \
        "<https://x.example/a%7Cb|A &lt;b&gt; &amp; c>"
    assert mrkdwn.render(mrkdwn.link("https://x.example/?a=1&b=2")) == "<https://x.example/?a=1&amp;b=2>"
    assert mrkdwn.render(mrkdwn.mention("<!here>")) == "@&lt;!here&gt;"
    assert mrkdwn.render(mrkdwn.mention("sentry")) == "@sentry"


@pytest.mark.parametrize("model_text,expected", [
    ("[sender](https://github.com/acme/pay/blob/main/s.py#L6)", "sender (<https://github.com/acme/pay/blob/main/s.py#L6>)"),
    ("<https://github.com/acme/pay/pull/1|https://github.com/acme/pay/pull/1>", "<https://github.com/acme/pay/pull/1>"),
    ("<https://baz.sentry.io/issues/1/|the issue>", "the issue (<https://baz.sentry.io/issues/1/>)"),
    ("<https://evil.example|https://github.com/acme/pay/pull/1>",
     "&lt;`https://evil.example`|<https://github.com/acme/pay/pull/1>&gt;"),
    ("[pr](https://github.com.evil.example/x)", "[pr](`https://github.com.evil.example/x`)"),
    ("<https://github.com@evil.example/x|x>", "&lt;`https://github.com@evil.example/x`|x&gt;"),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("<javascript:alert(1)|https://github.com>", "&lt;javascript:alert(1)|<https://github.com>&gt;"),
])
def test_model_links_only_to_configured_hosts_with_their_real_url(model_text, expected):
    assert mrkdwn.render(mrkdwn.from_model(model_text, ALLOWED_HOSTS)) == expected


@pytest.mark.parametrize(("model_text", "expected"), [
    ("see https://evil.example/x.", "see `https://evil.example/x`."),
    ("(www.evil.example/login)", "(`www.evil.example/login`)"),
    ("[https://github.com/a](https://evil.example)", "[<https://github.com/a>](`https://evil.example`)"),
    ("https://github.com.evil.example/x", "`https://github.com.evil.example/x`"),
    ("https://evil.example/?next=https://github.com/a", "`https://evil.example/?next=https://github.com/a`"),
    ("bare https://github.com/acme/pay/pull/1, ok", "bare <https://github.com/acme/pay/pull/1>, ok"),
    ("```\ncurl https://evil.example\n```", "```\ncurl https://evil.example\n```"),
    ("inline `https://evil.example` stays", "inline `https://evil.example` stays"),
])
def test_model_urls_slack_would_link_by_itself_are_code_unless_allowed(model_text, expected):
    assert mrkdwn.render(mrkdwn.from_model(model_text, ALLOWED_HOSTS)) == expected


def test_allowed_hosts_come_from_settings():
    from bot.settings import Settings
    settings = Settings(github_url="https://git.acme.test", jira_url="https://acme.atlassian.net",
                        sentry_url="https://sentry.acme.test/")
    assert mrkdwn.allowed_hosts(settings) == ("git.acme.test", "acme.atlassian.net", "sentry.acme.test")


def test_code_cannot_be_closed_early():
    assert mrkdwn.code("a`b```c\nd") == "`aˋbˋˋˋc d`"
    block = mrkdwn.code_block("x\n```\n<!channel>\n````")
    assert block == "```\nx\nˋˋˋ\n<!channel>\nˋˋˋˋ\n```"
    assert mrkdwn.render(block).count("```") == 2 and not inert(mrkdwn.render(block))


def test_one_line_keeps_foreign_text_inside_droids_formatting():
    assert mrkdwn.one_line("a\n```\n> quote\u202e\n1. item") == "a ˋˋˋ > quote 1. item"


def test_a_megabyte_renders_fast():
    text = (CORPUS + "\n") * (1_000_000 // len(CORPUS))
    start = time.perf_counter()
    out = mrkdwn.render(mrkdwn.from_model(text, ALLOWED_HOSTS))
    assert time.perf_counter() - start < 2.0 and not inert(out)


# -- every builder in bot/slack/blocks.py --------------------------------------------------------------

def hostile_plan(text: str) -> Plan:
    plan = Plan(goal=text, steps=[Step(text, detail=text), Step("ok")], touches=[text, "a`b"], risks=[text],
                budget=Budget(steps=5, tokens=1000), actions=["read"], note=text)
    plan.version = 2
    return plan


def every_builder(text: str):
    plan = hostile_plan(text)
    yield "header", {"blocks": [blocks.header(text)]}
    yield "sections", {"blocks": blocks.sections(text)}
    yield "context", {"blocks": [blocks.context(text)]}
    yield "button", {"blocks": [blocks.actions("x", blocks.button(text, "a", "v"))]}
    yield "fit", blocks.fit(text, blocks.sections(text) * 8, full_text=text)
    yield "plan", blocks.plan_message("r1", plan, requester="UALICE", banner=f"*Revised* after feedback: _{text}_")
    yield "plan_bad_requester", blocks.plan_message("r1", plan, requester=text)
    yield "plan_closed", blocks.plan_closed_message("r1", plan, f"✅ Approved by {mrkdwn.mention('UALICE')}. {text}")
    yield "budget", blocks.budget_message("r1", plan, text)
    yield "status", blocks.status_message("r1", plan, text, running=True)
    yield "result", blocks.result_message(text, text, filename="x.md", buttons=[(text, "a")], value="v")
    yield "notice", blocks.notice(text)
    yield "modal", {"view": blocks.revise_modal("r1", 2)}


@pytest.mark.parametrize("text", [*HOSTILE, CORPUS, LONG], ids=short_id)
def test_every_builder_renders_hostile_text_inert(text):
    for name, message in every_builder(text):
        payload = message if isinstance(message, dict) else {"text": message.text, "blocks": message.blocks}
        assert_inert(payload, mentions=("UALICE",), where=name)
        if not isinstance(message, dict):
            assert len(message.text) <= blocks.MAX_TEXT and len(message.blocks) <= blocks.MAX_BLOCKS
            if message.file:
                assert not INVISIBLE.search(message.file[1])


def test_plan_shows_the_hostile_text_rather_than_dropping_it():
    message = blocks.plan_message("r1", hostile_plan(CORPUS), requester="UALICE")
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert "&lt;!channel&gt; deploy is broken" in shown and "&lt;@U0BOSS&gt;" in shown
    assert "requested by <@UALICE>" in shown and message.text.startswith("Plan v2 for run r1: &lt;!channel&gt;")
    body = next(b["text"]["text"] for b in message.blocks if "*Goal:*" in b.get("text", {}).get("text", ""))
    assert "```" not in body and body.count("\n") < 20      # steps, goal, risks: one line each, no fence


# -- skills/rca/report.py ------------------------------------------------------------------------

def hostile_evidence(text: str) -> Evidence:
    frame = FrameEvidence(0, 0, text, f"shop/{text[:20]}.py", text, 12, True, False, 1.0, scope=text,
                          code=[(11, text), (12, "```\n" + text), (13, "x = 1")])
    location = SuspectLocation(f"shop/{text[:20]}.py", text, 12, 0.9, [text], qualname=text)
    commit = SuspectCommit("a" * 40, 0.8, [text, text], author=text, subject=text,
                           date=datetime(2026, 1, 1, tzinfo=UTC), age_before_first_seen=timedelta(hours=3))
    return Evidence("b" * 40, text, datetime(2026, 1, 1, tzinfo=UTC), text, {"type": text, "value": text},
                    [frame], [location], [commit, commit],
                    {"event_count": 3, "release": text, "environment": text, "first_seen": "2026-01-01T00:00:00Z"},
                    notes=[text], commands=[f"git grep -n {text}", "```", "echo ```"])


@pytest.mark.parametrize("text", [*HOSTILE, CORPUS], ids=short_id)
def test_rca_report_is_inert_in_slack_and_its_fences_hold(text):
    ev = hostile_evidence(text)
    pr = "https://github.com/acme/pay/pull/3"
    body = report.summary(ev, pulls={"a" * 40: f"{mrkdwn.link(pr, 'PR #3')} by {text}"}, narrative=text)
    message = blocks.result_message(f"Root-cause analysis: {text}", body, filename="r.md",
                                    buttons=[("Draft a fix", "droid_rca_fix")], value="v")
    assert_inert({"text": message.text, "blocks": message.blocks}, links=(pr,))
    assert f"<{pr}|PR #3>" in json.dumps(message.blocks)
    for part in (report.what_broke(ev), report.frames_text(ev), report.commits_text(ev), *report.hypotheses(ev),
                 *report.next_steps(ev), report.impact_line(ev)):
        assert not inert(mrkdwn.render(part))
        assert mrkdwn.render(part).count("```") % 2 == 0
    markdown = report.full_markdown(ev, text, "https://sentry.io/issues/1/")
    assert fences_hold(markdown), markdown
    assert not INVISIBLE.search(markdown)


# -- through the real app ------------------------------------------------------------------------

@pytest.fixture
def droid(tmp_path):
    d = Droid(tmp_path, repo=make_repo(tmp_path / "service", SERVICE_FILES))
    yield d
    d.close()


def plan_post(droid, version):
    return wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith(f"Plan v{version} ")
                                  and droid.buttons(p)), None), what=f"plan v{version}")


def test_mention_task_and_revise_feedback_are_shown_not_obeyed(droid):
    from bot.slack import payloads
    _, ts = droid.mention(f"where is the retry logic? {CORPUS}", user="UALICE")
    run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
    v1 = plan_post(droid, 1)
    assert "&lt;!channel&gt;" in v1["text"] and "&lt;!channel&gt; deploy is broken" in json.dumps(v1["blocks"])
    droid.click("droid_revise", droid.buttons(v1)["droid_revise"])
    view = wait_for(lambda: droid.slack.views, what="modal opened")[0]
    feedback = f"please <!here> also {CORPUS}"
    submission = payloads.view_submission(user="UALICE", team="T0DROID", view=view,
                                          values={"feedback": {"text": feedback}})
    assert droid.dispatch(submission).status == 200
    v2 = plan_post(droid, 2)
    assert "Revised* after feedback: _please &lt;!here&gt; also" in json.dumps(v2["blocks"], ensure_ascii=False)
    droid.click("droid_cancel", droid.buttons(v2)["droid_cancel"])
    droid.wait_state(run.run_id, "cancelled")
    cancelled = wait_for(lambda: [p for p in droid.posts() if "cancelled by" in p["text"]], what="cancel notice")
    assert "cancelled by <@UALICE>" in cancelled[0]["text"]          # droid's own mention still works
    assert_slack_inert(droid, mentions=("UALICE",))


def test_model_answer_links_only_to_configured_hosts(tmp_path):
    from integrations.llm import AnthropicLLM
    from tests.stubs.anthropic_stub import AnthropicStub, Turn
    pull = "https://github.com/acme/pay/pull/7"
    answer = (f"Retries live in [sender](https://github.com/acme/pay/blob/main/webhooks/sender.py#L6). See <{pull}|"
              f"{pull}> and [docs](https://evil.example/x).\nTracking pixel: https://evil.example/p.png, "
              f"mirror www.evil.example/pay and `curl https://evil.example/ok-in-code`\n{CORPUS}")
    plan = {"goal": f"Explain {HOSTILE[0]}", "steps": [{"title": HOSTILE[3], "detail": HOSTILE[4]}],
            "touches": ["webhooks/"], "risks": [HOSTILE[2]]}
    wider = {"steps": [HOSTILE[1]], "reason": HOSTILE[0], "touches": ["webhooks/", "<!channel>/x.py"]}
    with AnthropicStub() as stub:
        stub.add(Turn.tool_use("submit_plan", plan), Turn.tool_use("revise_plan", wider),
                 Turn.tool_use("final_answer", {"text": answer}))
        llm = AnthropicLLM(api_key="sk-ant-test-key-00000000000000000000", model="claude-sonnet-4-5",
                           base_url=stub.url, max_retries=1)
        droid = Droid(tmp_path, repo=make_repo(tmp_path / "service", SERVICE_FILES), llm=llm, anthropic_url=stub.url)
        try:
            _, ts = droid.mention("where are webhook retries handled?")
            run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
            droid.click("droid_approve", droid.buttons(plan_post(droid, 1))["droid_approve"])
            v2 = plan_post(droid, 2)
            assert "widens its scope" in json.dumps(v2["blocks"]) and "&lt;!channel&gt;/x.py" in json.dumps(v2["blocks"])
            droid.click("droid_approve", droid.buttons(v2)["droid_approve"])
            assert droid.wait_state(run.run_id, "succeeded", "failed").state == "succeeded"
            posted = wait_for(lambda: [p for p in droid.posts() if "Retries live in" in p["text"]], what="answer")
            shown = json.dumps(posted[0]["blocks"], ensure_ascii=False)
            assert "sender (<https://github.com/acme/pay/blob/main/webhooks/sender.py#L6>)" in shown
            assert f"<{pull}>" in shown and "[docs](`https://evil.example/x`)" in shown
            # Slack links (and unfurls) a bare URL by itself: a foreign one is put in code, which it does not
            assert "pixel: `https://evil.example/p.png`, mirror `www.evil.example/pay`" in shown
            assert "`curl https://evil.example/ok-in-code`" in shown
            assert all(c.args.get("unfurl_links") is False for c in droid.slack.calls_to("chat.postMessage"))
            assert_slack_inert(droid, mentions=("UALICE",))
        finally:
            droid.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from skills.rca.sample import build_repo, capture_event
    root = tmp_path_factory.mktemp("shop")
    build_repo(root / "repo")
    return {"repo": root / "repo", "event": capture_event(root / "repo", "v1.2.0", "shop@1.2.0", root / "work")}


def test_sentry_webhook_alert_and_rca_header_are_inert(tmp_path, shop, fixtures_dir):
    from bot.slack.sentry_webhook import sentry_route
    from tests.test_rca_slack import WEBHOOK_SECRET, _signed
    payload = copy.deepcopy(json.loads((fixtures_dir / "sentry/webhooks/event_alert.issue_alert_triggered.json")
                                       .read_text()))
    keep = {k: payload["data"]["event"][k] for k in ("web_url", "issue_url", "issue_id", "project", "url")
            if k in payload["data"]["event"]}
    title = "TypeError: <!channel> <https://evil.example|https://github.com/acme/pay/pull/1> \u202eexe.txt"
    payload["data"]["event"] = {**shop["event"], **keep, "title": title, "culprit": f"pay.charge {HOSTILE[3]}"}
    web_url = keep.get("web_url")
    droid = Droid(tmp_path, routing=Routing(channel_repos={"CALERTS": str(shop["repo"])}, alert_channels=("CALERTS",),
                                            sentry_projects={str(keep.get("project", "")): "CALERTS"}),
                  sentry_webhook_secret=WEBHOOK_SECRET)
    try:
        body = json.dumps(payload)
        status, _, _ = sentry_route(droid.deps)(body, {"Sentry-Hook-Resource": "event_alert",
                                                       "Sentry-Hook-Timestamp": str(int(time.time())),
                                                       "Sentry-Hook-Signature": _signed(body.encode(), WEBHOOK_SECRET)})
        assert status == 200
        alert = wait_for(lambda: [p for p in droid.posts("CALERTS") if p["text"].startswith("🚨")], what="alert")
        assert "&lt;!channel&gt;" in alert[0]["text"] and "&lt;@U0BOSS&gt;" in alert[0]["text"]
        if web_url:
            assert f"<{web_url}|open in Sentry>" in alert[0]["text"]
        rca = wait_for(lambda: [p for p in droid.posts("CALERTS") if p["text"].startswith("Root-cause analysis")],
                       timeout=30, what="RCA report")
        assert rca[0]["text"].startswith("Root-cause analysis: TypeError: &lt;!channel&gt; &lt;https://evil.example|")
        assert "*Root-cause analysis: TypeError: &lt;!channel&gt;" in json.dumps(rca[0]["blocks"], ensure_ascii=False)
        wait_for(lambda: len(droid.slack.calls_to("files.completeUploadExternal")) >= 1, what="report upload")
        assert_slack_inert(droid, links=(web_url,) if web_url else ())
        markdown = next(f for f in droid.slack.files.values() if f.get("title") == "Full RCA report")
        assert fences_hold(markdown["content"].decode()) and not INVISIBLE.search(markdown["content"].decode())
    finally:
        droid.close()


def test_a_link_sealed_by_another_droid_process_opens_only_under_the_same_secret():
    """The process before a restart sealed under the signing secret's key; a worker under the key its job carries."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("from bot.slack import mrkdwn; mrkdwn.use_key('deploy-signing-secret-1'); "
            "print(mrkdwn.link('https://github.com/acme/pay/pull/7', 'Pull request'))")
    token = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    saved = mrkdwn._KEY
    try:
        mrkdwn.use_key("deploy-signing-secret-1")
        assert mrkdwn.render(token) == "<https://github.com/acme/pay/pull/7|Pull request>"
        mrkdwn.use_key("another-deployment-secret")
        assert "<https://" not in mrkdwn.render(token) and "Pull request" in mrkdwn.render(token)
        key = mrkdwn.seal_key()          # what a job carries to a worker: the worker's links open here
        worker = ("import sys; from bot.slack import mrkdwn; mrkdwn.use_seal_key(sys.argv[1]); "
                  "print(mrkdwn.link('https://github.com/acme/pay/pull/8', 'PR'))")
        sent = subprocess.run([sys.executable, "-c", worker, key], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1]).stdout.strip()
        assert mrkdwn.render(sent) == "<https://github.com/acme/pay/pull/8|PR>"
    finally:
        mrkdwn._KEY = saved
