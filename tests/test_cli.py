"""The `droid` commands as a user runs them (`python -m bot.cli ...`): bad input is one line and exit
code 2, never a traceback; what they print passes through the redactor; condense streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from integrations.redact import Redactor
from skills.rca.sample import build_repo, capture_event
from tests.canaries import CANARIES, leaks, planted
from tests.repos import SERVICE_FILES, make_repo

REPO = Path(__file__).resolve().parents[1]
CONFIGURED = "Zq81configuredGithubTokenValue"  # a configured secret no pattern knows
# the canary kinds the redactor recognises on its own: none of them may reach the output
CAUGHT = [kind for kind, (text, _) in CANARIES.items() if not leaks(Redactor()(text))]
SECRETS = [part for kind in CAUGHT for part in CANARIES[kind][1]] + [CONFIGURED]


def droid(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m bot.cli ARGS` with a clean environment (and one configured secret)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "SLACK_", "SENTRY_", "DROID_", "GITHUB_", "JIRA_"))}
    env["GITHUB_TOKEN"] = CONFIGURED
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True,
                          timeout=timeout, env=env, cwd=REPO)


def one_line_error(done: subprocess.CompletedProcess, prog: str, code: int = 2) -> str:
    """The single line a command printed on stderr when it refused its input."""
    err = done.stderr.decode()
    assert done.returncode == code, (done.returncode, err)
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"{prog}: "), err
    return err


def leaked(done: subprocess.CompletedProcess) -> list[str]:
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    return [s for s in SECRETS if s in text]


# ---------------------------------------------------------------------------------------------
# droid itself


def test_unknown_and_missing_commands_are_one_line():
    one_line_error(droid("frobnicate"), "droid")
    assert droid().returncode == 2
    assert droid("--help").returncode == 0


# ---------------------------------------------------------------------------------------------
# condense


@pytest.fixture
def log(tmp_path) -> Path:
    path = tmp_path / "fail.log"
    path.write_text("".join(f"step {i} ok\n" for i in range(500)) + "ERROR: the build broke\n" + "done\n")
    return path


@pytest.mark.parametrize("value", ["-5", "0", "abc", "1.5", "", "10001", "0x10"])
def test_condense_rejects_a_bad_budget(log, value):
    err = one_line_error(droid("condense", str(log), "--max-lines", value), "droid condense")
    assert "--max-lines" in err and "1 to 10000" in err


def test_condense_rejects_missing_files_folders_and_binaries(tmp_path, log):
    assert "No such file" in one_line_error(droid("condense", str(tmp_path / "nope.log")), "droid condense")
    one_line_error(droid("condense", str(tmp_path)), "droid condense")
    one_line_error(droid("condense", str(log), "--baseline", str(tmp_path / "nope.log")), "droid condense")
    one_line_error(droid("condense"), "droid condense")
    elf = tmp_path / "a.out"
    elf.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40)
    done = droid("condense", str(elf))
    assert "binary" in one_line_error(done, "droid condense") and done.stdout == b""
    noise = tmp_path / "random.bin"
    noise.write_bytes(bytes((i * 7919 + 13) % 126 + 130 for i in range(20_000)))  # no NUL, not UTF-8
    assert "binary" in one_line_error(droid("condense", "-", stdin=noise.read_bytes()), "droid condense")
    assert "binary" in one_line_error(droid("condense", str(log), "--baseline", str(elf)), "droid condense")


def test_condense_reads_standard_input(log):
    done = droid("condense", "-", "--max-lines", "5", "--format", "json", stdin=log.read_bytes())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert 501 in out["kept_lines"] and "ERROR: the build broke" in out["text"]
    piped = droid("condense", "/dev/stdin", "--max-lines", "5", "--format", "json", stdin=log.read_bytes())
    assert piped.returncode == 0 and json.loads(piped.stdout) == out  # a pipe by name: read once, spooled


def test_condense_prints_through_the_redactor(tmp_path):
    log = tmp_path / "fail.log"
    log.write_text("".join(f"step {i} ok\n" for i in range(300)) + "ERROR: deploy failed with config:\n"
                   + planted() + f"\nGITHUB_TOKEN={CONFIGURED}\n" + "Traceback (most recent call last):\n"
                   + f"ValueError: bad key {CANARIES['github_pat'][0]} {CONFIGURED}\n")
    for fmt in ("text", "json"):
        done = droid("condense", str(log), "--max-lines", "60", "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert b"ERROR: deploy failed" in done.stdout and b"[REDACTED]" in done.stdout
        assert leaked(done) == []


def test_condense_streams_a_big_log_in_bounded_memory(tmp_path):
    """About 40 MB of chatter with two failures: the child's peak RSS stays far below the input's
    size times the in-memory condenser's factor (~6x), and the failures are found."""
    path = tmp_path / "big.log"
    chatter = "".join(f"[INFO] Tests run: {i % 30 + 1}, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.{i:03d} s"
                      f" - in com.example.Suite{i}Test\n2024-05-01 12:00:{i % 60:02d} INFO worker processed batch {i}\n"
                      for i in range(1000))
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(300):
            fh.write(chatter)
            if k == 120:
                fh.write("Traceback (most recent call last):\n  File \"app.py\", line 3, in run\n"
                         "ValueError: ledger unbalanced for acct-42\n")
        fh.write("[ERROR] BUILD FAILURE: tests failed in module billing\n")
    size = path.stat().st_size
    assert size > 30e6
    with tempfile.TemporaryFile() as out:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DROID_"))}
        # Linux carries the parent's high-water RSS into a child across exec, so a big test worker would
        # inflate the figure: a small fresh Python starts the command and reports its child's peak.
        probe = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
                 "sys.stderr.write(f'{code} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')")
        proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "bot.cli", "condense", str(path),
                               "--format", "json"], stdout=out, stderr=subprocess.PIPE, cwd=REPO, env=env, text=True)
        code, maxrss_kb = (int(x) for x in proc.stderr.split()[-2:])
        out.seek(0)
        result = json.loads(out.read())
    assert code == 0
    peak_mb = maxrss_kb / 1024
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB on a {size / 1e6:.0f} MB log"
    assert "ValueError: ledger unbalanced for acct-42" in result["text"]
    assert "[ERROR] BUILD FAILURE: tests failed in module billing" in result["text"]
    assert len(result["kept_lines"]) <= 100


# ---------------------------------------------------------------------------------------------
# rca


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("rca")
    build_repo(root / "shop")
    event = capture_event(root / "shop", "v1.2.0", "shop@1.2.0", root / "run")
    return {"repo": root / "shop", "event": event, "root": root}


def _event_file(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / "event.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


@pytest.mark.parametrize("content, says", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a":' * 150 + "1" + "}" * 150, "nested too deeply"),
    ("not json at all", "not JSON"),
    ("42", "must hold a JSON object"),
    ('"text"', "must hold a JSON object"),
    ("[]", "must hold a JSON object"),
    ('{"foo": 1}', "not a Sentry event"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
    ("", "not JSON"),
], ids=["deep-list", "deep-object", "not-json", "number", "string", "empty-list", "not-an-event", "binary", "empty"])
def test_rca_refuses_bad_events_in_one_line(tmp_path, shop, content, says):
    done = droid("rca", "--event", str(_event_file(tmp_path, content)), "--repo", str(shop["repo"]))
    assert says in one_line_error(done, "droid rca")


def test_rca_refuses_bad_repositories_and_arguments(tmp_path, shop):
    event = _event_file(tmp_path, json.dumps(shop["event"]))
    assert "no repository at" in one_line_error(droid("rca", "--event", str(event), "--repo", str(tmp_path / "x")),
                                                "droid rca")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a git repository" in one_line_error(droid("rca", "--event", str(event), "--repo", str(plain)),
                                                    "droid rca")
    one_line_error(droid("rca", "--event", str(event), "--repo", str(event)), "droid rca")
    one_line_error(droid("rca", "--event", str(tmp_path / "missing.json"), "--repo", str(shop["repo"])), "droid rca")
    for bad in ("-1", "0", "many"):
        one_line_error(droid("rca", "--event", str(event), "--repo", str(shop["repo"]), "--max-commits", bad),
                       "droid rca")
    one_line_error(droid("rca", "--event", str(event)), "droid rca")
    one_line_error(droid("rca", "--event", str(event), "--repo", str(shop["repo"]), "--first-seen", "soon"),
                   "droid rca")


def test_rca_survives_lone_surrogates(tmp_path, shop):
    event = json.loads(json.dumps(shop["event"]))
    exc = event["exception"]["values"][-1]
    exc["value"] = exc["value"] + " \ud800 and \udfff"
    event["message"] = "lone \udc80 surrogate"
    path = _event_file(tmp_path, json.dumps(event))  # JSON escapes them: valid JSON, invalid text
    for fmt in ("json", "md"):
        done = droid("rca", "--event", str(path), "--repo", str(shop["repo"]), "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr
        assert "shop/pricing.py" in done.stdout.decode("utf-8")


def test_rca_prints_through_the_redactor(tmp_path, shop):
    event = json.loads(json.dumps(shop["event"]))
    exc = event["exception"]["values"][-1]
    exc["value"] = exc["value"] + " " + planted(" ") + " " + CONFIGURED
    frame = exc["stacktrace"]["frames"][-1]
    frame.setdefault("vars", {})["config"] = planted("\n")
    frame["vars"]["token"] = CONFIGURED
    event["message"] = planted("\n")
    event.setdefault("tags", {})["deploy_token"] = CANARIES["github_pat"][0]
    path = _event_file(tmp_path, json.dumps(event))
    for fmt in ("json", "md"):
        done = droid("rca", "--event", str(path), "--repo", str(shop["repo"]), "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert b"git grep" in done.stdout  # the commands it ran are listed, redacted
        assert leaked(done) == []


def test_rca_commands_hide_the_words_of_secrets_the_redactor_masked(shop):
    """A grep pattern quotes single words of the event; a word the redactor masked in the event
    (where its context showed it was a secret) is masked in the commands too."""
    from integrations.sentry_event import parse_event
    from skills.rca.evidence import analyse
    event = json.loads(json.dumps(shop["event"]))
    exc = event["exception"]["values"][-1]
    secret_words = ["Hx72SecretWordAlpha", "Kp19SecretWordBeta"]
    exc["value"] = exc["value"] + f" password={secret_words[0]} api_key: {secret_words[1]}"
    evidence = analyse(parse_event(event), shop["repo"], redact=Redactor())
    listed = "\n".join(evidence.commands)
    assert "git grep" in listed and "[REDACTED]" in listed
    assert not [w for w in secret_words if w in listed]
    assert not [w for w in secret_words if w in Redactor()(evidence.to_markdown())]  # as droid rca prints it


# ---------------------------------------------------------------------------------------------
# locate


def test_locate_prints_through_the_redactor(tmp_path):
    pat = CANARIES["github_pat"][0]
    files = {**SERVICE_FILES, f"keys/{CANARIES['aws_key_id'][0]}.py": f"def {pat}():\n    return '{CONFIGURED}'\n"}
    repo = make_repo(tmp_path / "svc", files)
    done = droid("locate", "--repo", str(repo), "--query", f"{pat} {CANARIES['aws_key_id'][0]} {CONFIGURED}",
                 "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr
    assert b"keys/" in done.stdout and b"[REDACTED]" in done.stdout
    assert leaked(done) == [] and CANARIES["aws_key_id"][0] not in done.stdout.decode()


def test_locate_bad_arguments_are_one_line(tmp_path):
    one_line_error(droid("locate", "--repo", str(tmp_path / "missing"), "--query", "x",
                         "--cache-dir", str(tmp_path / "c")), "droid locate")
    one_line_error(droid("locate", "--repo", str(tmp_path)), "droid locate")


def test_every_command_reports_bad_arguments_in_one_line():
    for command in ("serve", "console", "doctor", "demo", "locate", "condense", "rca"):
        err = one_line_error(droid(command, "--no-such-option"), f"droid {command}")
        assert f"(see droid {command} --help)" in err


def test_console_refuses_a_repository_that_is_not_there(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "no repository at" in one_line_error(droid("console", "--repo", str(tmp_path / "nope"), stdin=b""),
                                                "droid console")
    assert "not a git repository" in one_line_error(droid("console", "--repo", str(plain), stdin=b""),
                                                    "droid console")
