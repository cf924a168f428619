"""The redactor: every canary kind masked in any shape it travels in; look-alikes survive; tools mask keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from integrations.redact import MASK, Redactor
from skills.tools.base import ToolContext
from skills.tools.files import grep_tool, view_file_tool
from tests.canaries import _PEM_BODY, CANARIES, PRIVATE_KEY, SECRET_PARTS, leaks, planted
from tests.repos import make_repo

KINDS = sorted(CANARIES)
redact = Redactor()


@pytest.mark.parametrize("kind", KINDS)
def test_each_canary_is_masked_whole_and_line_by_line(kind: str):
    text, parts = CANARIES[kind]
    assert leaks(text), "the canary must hold its own parts"
    assert not leaks(redact(text))
    for line in text.splitlines():   # a window that shows one line of a multi-line secret
        assert not leaks(redact(line)), line


def test_all_canaries_in_one_document_and_each_pem_body_line_alone():
    assert not leaks(redact(planted()))
    assert not leaks(redact(planted(sep=" ; ")))
    for line in _PEM_BODY:
        assert redact(line) == MASK
        assert not leaks(redact(f"    {len(line):>4} {line}")), "view_file's numbered line"
        assert not leaks(redact(f"+{line}")), "a diff line"


# Each canary planted where code, configuration and data carry secrets.
SHAPES = {
    "python": lambda t: f'CONFIG = """{t}"""\nprint("ready")',
    "json_string": lambda t: json.dumps({"note": t, "n": 1}),
    "yaml_block": lambda t: "settings:\n  value: |\n" + "\n".join("    " + x for x in t.splitlines()),
    "env_line": lambda t: f"EXTRA_NOTE={t}" if "\n" not in t else t,
    "toml": lambda t: f'note = """{t}"""',
    "log_line": lambda t: f"2026-03-01T10:00:00Z ERROR failed with {t} (retrying)",
    "markdown": lambda t: f"Here is the config:\n```\n{t}\n```\nthanks",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_canaries_inside_code_yaml_env_toml_json_and_logs(kind: str, shape: str):
    document = SHAPES[shape](CANARIES[kind][0])
    assert not leaks(redact(document))
    for line in document.splitlines():
        assert not leaks(redact(line)), line


def test_canaries_inside_json_values_keys_and_nesting():
    value = {
        "event": {"message": planted(), "frames": [{"vars": {k: t for k, (t, _) in CANARIES.items()}}]},
        "password": "CanaryJsonPassw0rd!",
        "PAYMENTS_CLIENT_SECRET": "CanaryEnvS3cretV4lue",
        "headers": {"Authorization": "Bearer " + CANARIES["jwt"][0]},
        "argv": ["deploy", "--token", CANARIES["github_pat"][0]],
    }
    cleaned = redact.data(value)
    assert not leaks(json.dumps(cleaned))
    assert cleaned["password"] == MASK and cleaned["PAYMENTS_CLIENT_SECRET"] == MASK
    assert cleaned["event"]["frames"][0]["vars"]["aws_key_id"] == MASK
    assert redact.data({"n": 3, "ok": True, "none": None}) == {"n": 3, "ok": True, "none": None}


SECRET_NAMED = [
    ('"password": "hunter2-Prod"', "hunter2-Prod"),
    ("api_key: k3y-abcdef12", "k3y-abcdef12"),
    ("DB_PASSWORD=s3cr3tpass", "s3cr3tpass"),
    ('client_secret = "cs_9fK2mQ7vX1"', "cs_9fK2mQ7vX1"),
    ("export GITHUB_TOKEN='tok_live_31aa'", "tok_live_31aa"),
    ('connect(host="db", password="Winter2024!")', "Winter2024!"),
    ('config.set("SMTP_PASS", "Falcon1999.")', "Falcon1999."),
    ("mytool --api-key Zx81kLm0pQ", "Zx81kLm0pQ"),
    ("password: supersecretvalue", "supersecretvalue"),
    ('"session_key": "Yq3T8vKp2Lm9Nx4Rb7Wc1Zd6"', "Yq3T8vKp2Lm9Nx4Rb7Wc1Zd6"),
    ("curl -H 'Authorization: Bearer abc123def456ghi789'", "abc123def456ghi789"),
    ("https://user:hunter2pass@git.example.com/org/repo.git", "hunter2pass"),
    ('client(key, token="abc123xyzQ")', "abc123xyzQ"),
    ("machine github.com login octo password s3cretNetrc9", "s3cretNetrc9"),
    ("os.environ.setdefault('API_TOKEN', 'tok_9a8b7c6d')", "tok_9a8b7c6d"),
    ('{\\"user\\": \\"svc\\", \\"password\\": \\"Esc4ped-Passw0rd\\"}', "Esc4ped-Passw0rd"),
    # passwords handed to well-known commands by short flags
    ("mysql -h db -u app -pMysqlPassw0rd9 pay", "MysqlPassw0rd9"),
    ("mysqldump -u root -p'Dump!Passw0rd' pay > pay.sql", "Dump!Passw0rd"),
    ("docker login -u bot -p Dock3rHubPassw0rd registry.example.com", "Dock3rHubPassw0rd"),
    ("sshpass -p 'SshPassw0rd42' ssh deploy@host", "SshPassw0rd42"),
    ("redis-cli -h cache -p 6380 -a Red1sPassw0rd ping", "Red1sPassw0rd"),
    ("curl -sf -u admin:CurlPassw0rd7 https://ci.example.com/api", "CurlPassw0rd7"),
    ("wget --user=admin:WgetPassw0rd7 https://x.example.com/f", "WgetPassw0rd7"),
    ("  password Netrc2ndLinePassw0rd", "Netrc2ndLinePassw0rd"),
    ("aws configure set aws_secret_access_key q8Zt3Vw1AwsCliS3cret/9xLmN0pQr7", "q8Zt3Vw1AwsCliS3cret/9xLmN0pQr7"),
    ("npm config set //registry.npmjs.org/:_authToken NpmCfgT0ken9a8b7c", "NpmCfgT0ken9a8b7c"),
    ("gh secret set DEPLOY_KEY --body GhSecretB0dy77x", "GhSecretB0dy77x"),
    ("htpasswd -b -c .htpasswd bob HtPassw0rd55", "HtPassw0rd55"),
    # XML configuration (Maven settings.xml, .NET appSettings) and a quoted .env value with spaces
    ("<server><id>x</id><password>MavenPassw0rd9</password></server>", "MavenPassw0rd9"),
    ('<add key="ClientSecret" value="Zk9qR2xWbTN4UHl0aDZ1aaa9sd8f" />', "Zk9qR2xWbTN4UHl0aDZ1aaa9sd8f"),
    ('export DB_PASS="correct horse battery staple9"', "correct horse battery staple9"),
    # a bearer token with no header name before it (a log line, a curl command cut short)
    ("retrying with Bearer abcDEF123ghiJKL456mnoPQR from the cache", "abcDEF123ghiJKL456mnoPQR"),
    ("sent Bearer 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
]


@pytest.mark.parametrize(("text", "secret"), SECRET_NAMED)
def test_secret_named_assignments_are_masked_and_the_name_kept(text: str, secret: str):
    out = redact(text)
    assert secret not in out and MASK in out
    assert out.split(MASK)[0] == text.split(secret)[0], "only the value is masked"


SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
UUID = "550e8400-e29b-41d4-a716-446655440000"
LOOKALIKES = [
    f"commit {SHA}", SHA, f"git checkout {SHA[:7]}", f'rev = "{SHA}"', f'"sha": "{SHA}", "key": "{SHA}"',
    f"request_id={UUID}", f'"session_key": "{UUID}"', f"trace: {UUID}",
    'payload = "SGVsbG8gd29ybGQgdGhpcyBpcyBhIGJhc2U2NCB0ZXN0IGZpeHR1cmU="',
    "The fixture decodes SGVsbG8gd29ybGQgdGhpcyBpcyBhIGJhc2U2NCB0ZXN0IGZpeHR1cmU= into words.",
    '"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="',
    "requests==2.31.0 --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f",
    '{file = "pkg-1.0-py3-none-any.whl", hash = "sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"}',
    "/usr/lib/python3.11/site-packages/app/secrets/token_store.py",
    "ANTHROPIC_API_KEY is read by get_api_key()",
    "token = next_token()", "password_field = forms.CharField(max_length=128)", "secret = None",
    "api_key: str", 'api_key = os.environ["API_KEY"]', "self.token = token", "connect(password=password)",
    "max_tokens: 4096", 'headers = {"Authorization": f"Bearer {token}"}', "for key, value in items.items():",
    "api_key: ${API_KEY}", 'password: "{{ .Values.db.password }}"', "export GITHUB_TOKEN=$GITHUB_TOKEN",
    "secret: SecretStr", "token: Optional[str] = None", "def set_password(self, password: str) -> None:",
    "https://git@github.com/acme/pay.git", "postgres://localhost:5432/pay",
    "git clone https://x-access-token:[REDACTED]@github.com/acme/pay.git",
    "GitHub tokens start with ghp_ and AWS key ids with AKIA.",
    "docker run -p 8080:80 -u 1000 img", "ls -a /tmp | grep -a foo", "mysql -u root -p pay",
    'mysql -u root -p"$DB_PASSWORD" pay', 'curl -u "$USER:$PASS" https://x.example.com', "curl -u admin https://x",
    "aws configure set region us-east-1", "npm config set registry https://r.example.com",
    'gh secret set API_TOKEN --body "$TOKEN"', "htpasswd -c .htpasswd bob", "git checkout -b feature/x main",
    "Password expired", "password reset required", '<add key="Title" value="Hello World"/>',
    "<secret>${env.SECRET}</secret>", "Map<String, Key> keys = new HashMap<>();", 'label = "Enter your password"', "description: |\n  Rotate the password yearly.\n",
    "Rotate the key and the token after the incident.",
    "Bearer token expired; use the Bearer authentication_scheme", "send `Bearer <token>` as shown",
    '{"key": "Codertocat/Hello-World#1", "system": "github"}', "key: ACME-Platform/payments-service#1042",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_survive(text: str):
    assert redact(text) == text


@pytest.mark.parametrize("name", ["password", "client_secret", "private_key", '"api_token"'])
def test_a_yaml_block_scalar_under_a_secret_name_is_masked_line_for_line(name: str):
    text = f"db:\n  {name}: |-\n    BlockS3cretLine1x\n\n    BlockS3cretLine2y\n  host: db.internal\nport: 5432\n"
    out = redact(text)
    assert "BlockS3cret" not in out and out.count("\n") == text.count("\n")
    assert out.startswith(f"db:\n  {name}: |-\n") and out.endswith("  host: db.internal\nport: 5432\n")


def test_certificates_survive_but_a_private_key_next_to_them_does_not():
    cert = "\n".join(["-----BEGIN CERTIFICATE-----", *_PEM_BODY, "-----END CERTIFICATE-----"])
    assert redact(cert) == cert
    both = redact(cert + "\n" + PRIVATE_KEY)
    assert both.startswith(cert) and not leaks(both[len(cert):])


def test_redaction_is_idempotent_and_keeps_line_numbers():
    once = redact(planted())
    assert redact(once) == once
    assert len(once.splitlines()) == len(planted().splitlines())
    crlf = PRIVATE_KEY.replace("\n", "\r\n") + "\r\nafter"
    assert redact(crlf).splitlines()[-1] == "after" and len(redact(crlf).splitlines()) == len(crlf.splitlines())
    for line in SECRET_NAMED:
        assert redact(redact(line[0])) == redact(line[0])


def test_known_values_are_masked_and_added_ones_too():
    r = Redactor(["plain-old-value-42"])
    assert r("x plain-old-value-42 y") == f"x {MASK} y"
    r.add("another-one-77")
    assert MASK in r("another-one-77") and r("short") == "short"


@pytest.mark.parametrize("user", ["bot@acme.example", "a", "ab", "abc"])
def test_a_known_secret_is_masked_in_basic_auth_base64_and_percent_encoded(user: str):
    import base64
    from urllib.parse import quote, quote_plus
    token = "jira+Api/Token=0123456789xyz"
    r = Redactor([token])
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        basic = alphabet(f"{user}:{token}".encode()).decode()
        out = r(f"retrying with credentials {basic} (attempt 2)")     # no header name: only the value tells
        assert MASK in out and basic not in out and out.endswith(" (attempt 2)")
    assert r(f"?t={quote(token, safe='')}&x={quote_plus(token)}") == f"?t={MASK}&x={MASK}"


@pytest.fixture()
def key_repo(tmp_path: Path) -> Path:
    body = "\n".join(f"line_{n} = {n}" for n in range(1, 41))
    return make_repo(tmp_path / "repo", {"deploy/key.pem": PRIVATE_KEY + "\n",
                                         "config/settings.py": body + "\nSIGNING_KEY = '''" + PRIVATE_KEY + "'''\n"})


@pytest.mark.parametrize("start", range(1, 7))
def test_view_file_never_shows_a_key_body_line_wherever_its_window_starts(key_repo: Path, start: int):
    view = view_file_tool(ToolContext(repo=key_repo, redact=redact))
    result = view.call({"path": "deploy/key.pem", "start_line": start})
    assert not result.is_error and not leaks(result.text), result.text
    assert f"lines {start}-" in result.text
    result = view.call({"path": "config/settings.py", "start_line": 40 + start})
    assert not leaks(result.text) and f"{40 + start:>6} " in result.text


def test_grep_excerpt_masks_key_lines_that_match_on_their_own(key_repo: Path):
    grep = grep_tool(ToolContext(repo=key_repo, redact=redact))
    for pattern in ("CanaryPem", re.escape(_PEM_BODY[1][:12]), "PRIVATE KEY", "SIGNING_KEY"):
        result = grep.call({"pattern": pattern})
        assert not result.is_error and "key.pem" in result.text or "settings.py" in result.text, result.text
        assert not leaks(result.text), result.text


def test_secret_parts_cover_every_kind():
    assert len(KINDS) >= 12 and all(any(p in CANARIES[k][0] for p in SECRET_PARTS) for k in KINDS)


def test_every_secret_name_the_detector_knows_is_also_reached_by_the_pre_filter():
    from integrations.secret_names import KEY_OWNERS, STRONG, WEAK
    value = "Zx81kLm0pQ9vB7nM3qW"
    for name in sorted(STRONG | WEAK | {owner + "_key" for owner in KEY_OWNERS}):
        for text in (f"{name} = '{value}'", f"{name.upper()}={value}", f'"{name}": "{value}"', f"--{name} {value}"):
            assert value not in redact(text), text


ADVERSARIAL = {
    "many BEGINs, no END": "-----BEGIN RSA PRIVATE KEY-----\n" * 20_000,
    "many certificates": "-----BEGIN CERTIFICATE-----\nAbc\n" * 20_000 + "-----BEGIN RSA PRIVATE KEY-----\nabc",
    "names without values": "password=" * 50_000,
    "one long run after a name": "key=" + "a" * 1_000_000,
    "OpenAI marker repeated": ("x" * 79 + "T3BlbkFJ") * 20_000,
    "quoted names and commas": '"token", ' * 50_000,
}


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_hostile_text_costs_linear_time(kind: str):
    import time
    start = time.process_time()
    redact(ADVERSARIAL[kind])
    assert time.process_time() - start < 1.5, "a quadratic path in a detector"


@pytest.mark.parametrize("kind", sorted(CANARIES))
def test_a_secret_cut_by_a_sections_size_limit_is_masked_in_both_pieces(kind: str):
    # a long line is cut mid-word at 3,000 chars into two section blocks; the sinks redact the blocks
    from bot.slack import blocks
    text = CANARIES[kind][0].replace("\n", " ")
    r = Redactor()
    for pad in range(max(2900, 3000 - len(text)) // 2 * 2, 3000, 2):     # the cut falls inside the secret
        message = blocks.result_message("Answer", "w " * (pad // 2) + text + " end", filename="a.md")
        assert len(message.blocks) > 2, "the line was not cut"
        shown = json.dumps(r.data(message.blocks))
        for part in CANARIES[kind][1]:
            assert not any(part[i:i + 12] in shown for i in range(len(part) - 11)), (pad, part)


@pytest.mark.parametrize("kind", ["github_pat", "stripe", "slack_bot", "vault", "sendgrid"])
def test_a_token_cut_off_by_a_length_limit_is_dropped_whole_not_left_short(kind: str):
    # a header (150 chars), the notification text (4,000) and context lines are clipped with "…"
    from bot.slack import blocks
    token = CANARIES[kind][0]
    for pad in range(100, 150, 3):
        header = blocks.header("Root-cause analysis: " + "w" * (pad - 21) + " " + token)["text"]["text"]
        shown = Redactor()(header)
        assert len(header) <= 150
        assert not any(token[i:i + 6] in shown for i in range(len(token) - 5)), (pad, shown)
    message = blocks.fit("a " * 1990 + token, [])
    assert not any(token[i:i + 6] in message.text for i in range(len(token) - 5))
