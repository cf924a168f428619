"""Secret-named assignments: `"password": "..."`, `api_key: ...`, `DB_PASSWORD=...`, `--token ...`.

A value is masked when the name it is assigned to *ends* in a secret word (`client_secret`,
`DB_PASSWORD`, `apiKey`; not `password_field` or `max_tokens`) and the value is a literal rather than
code (`next_token()`, `None`, `str`, `os.environ[...]`, `${VAR}` survive). Names that only suggest a
secret (`key`, `auth`, `signature`) mask only long high-entropy values.
"""

from __future__ import annotations

import re

from integrations.secret_rules import looks_random

STRONG = {"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "apikey", "credential",
          "credentials", "creds", "pat", "secretkey", "accesskey", "privatekey", "authtoken", "sessiontoken"}
# `<word>_key` is a secret key; any other `..._key` only when its value looks random.
KEY_OWNERS = {"api", "access", "secret", "private", "signing", "encryption", "master", "client", "app",
              "auth", "account", "storage", "license", "webhook", "sas", "shared", "consumer", "hmac"}
WEAK = {"key", "auth", "signature", "sig", "salt", "cookie", "session", "sessionid", "private", "bearer"}

# Values that are code, types or placeholders, never a secret.
NOT_VALUES = {"none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "bool",
              "optional", "any", "object", "secretstr", "required", "optional[str]", "self", "this",
              "env", "changeme", "redacted", "placeholder", "example", "dummy", "xxx", "todo"}

_PAIR = re.compile(
    r"(?P<name>[A-Za-z_$@][\w.-]{0,60})(?P<close>[\"'`]?\]?[\"']?)[ \t]{0,3}(?P<sep>:=|=>|\?=|[:=])[ \t]{0,5}"
    r"(?P<value>\"(?:[^\"\\\n]|\\.){0,400}\"|'[^'\n]{0,400}'|`[^`\n]{0,400}`|[^\s'\"`,;&|)}\]]{1,400})")
_FLAG = re.compile(r"(?i)(?<![\w-])--?(?P<name>[a-z][\w-]{1,40})(?:=|[ \t]+)(?P<value>\"[^\"\n]{1,400}\"|'[^'\n]{1,400}'|[^\s'\"]{4,400})")
_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CAPWORDS = re.compile(r"(?:[A-Z][a-z]+)+")
_PREFIXES = ("$", "{{", "<", "%(", "#{", "@", "&", "*", "!", "sha1:", "sha256:", "sha512", "sha384", "md5:")


def strength(name: str) -> str:
    """'strong', 'weak' or '' for a name, judged by its last word(s)."""
    parts = [p.lower() for p in _PARTS.findall(name)]
    while parts and parts[-1].isdigit():
        parts.pop()
    if not parts:
        return ""
    last = parts[-1]
    joined = "".join(parts[-2:])
    if last in STRONG or joined in STRONG or "".join(parts[-3:]) in STRONG:
        return "strong"
    if last == "key":
        return "strong" if len(parts) > 1 and parts[-2] in KEY_OWNERS else "weak"
    return "weak" if last in WEAK else ""


def secret_value(raw: str, strong: bool, env_style: bool = False, sep: str = "=") -> tuple[int, int] | None:
    """The (start, end) of the secret inside `raw` (a value as written), or None if it is not one."""
    start, end = 0, len(raw)
    quoted = raw[:1] in "\"'`" and len(raw) >= 2 and raw[-1] == raw[0]
    if quoted:
        start, end = 1, len(raw) - 1
    value = raw[start:end]
    for scheme in ("Bearer ", "Basic ", "bearer ", "token "):
        if value.startswith(scheme):
            start, value = start + len(scheme), value[len(scheme):]
    if len(value) < 4 or "REDACTED" in value or value.lower() in NOT_VALUES:
        return None
    if value.startswith(_PREFIXES) or len(set(value)) <= 2 or value.lower().startswith(("your", "my-", "my_")):
        return None
    if any(c.isspace() for c in value):
        return None
    if not strong:
        return (start, end) if looks_random(value) else None
    if quoted or env_style:
        return start, end
    # An unquoted value: code unless it reads like a literal.
    if any(c in value for c in "()[]{}<>") or _DOTTED.fullmatch(value) or value.isdigit():
        return None
    if _IDENT.fullmatch(value) and not any(c.isdigit() for c in value):
        if sep != ":" or _CAPWORDS.fullmatch(value) or len(value) < 8:
            return None   # `token = next_token`, `secret: SecretStr`
    return start, end


def assignment_spans(line: str) -> list[tuple[int, int, str]]:
    """(start, end, family) of each secret value assigned to a secret-looking name in `line`."""
    spans = []
    for m in _PAIR.finditer(line):
        name = m.group("name").rstrip(".-")
        kind = strength(name)
        if not kind:
            continue
        sep = m.group("sep")
        env_style = (sep == "=" and name.isupper() and m.start("sep") == m.end("name")
                     and m.start("value") == m.end("sep"))
        span = secret_value(m.group("value"), kind == "strong", env_style, sep)
        if span:
            spans.append((m.start("value") + span[0], m.start("value") + span[1], "assignment"))
    for m in _FLAG.finditer(line):
        kind = strength(m.group("name"))
        span = secret_value(m.group("value"), kind == "strong", True) if kind else None
        if span:
            spans.append((m.start("value") + span[0], m.start("value") + span[1], "assignment"))
    return spans
