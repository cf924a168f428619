"""Secret-named assignments: `"password": "..."`, `api_key: ...`, `DB_PASSWORD=...`, `--token ...`.

A value is masked when the name it is assigned to *ends* in a secret word (`client_secret`,
`DB_PASSWORD`, `apiKey`; not `password_field` or `max_tokens`) and the value is a literal rather than
code (`next_token()`, `None`, `str`, `os.environ[...]`, `${VAR}` survive). Names that only suggest a
secret (`key`, `auth`, `signature`) mask only long high-entropy values.
"""

from __future__ import annotations

import re
from functools import lru_cache

from integrations.secret_rules import looks_random

STRONG = {"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "apikey", "credential",
          "credentials", "creds", "pat", "secretkey", "accesskey", "privatekey", "authtoken", "sessiontoken"}
# `<word>_key` is a secret key; any other `..._key` only when its value looks random.
KEY_OWNERS = {"api", "access", "secret", "private", "signing", "encryption", "master", "client", "app",
              "auth", "account", "storage", "license", "webhook", "sas", "shared", "consumer", "hmac"}
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~-]+")   # base64, base64url, hex, JWT-ish: what a random secret is written in
WEAK = {"key", "auth", "signature", "sig", "cookie", "authorization"}
# Session identifiers: credentials as well, but named too loosely to look for in free text (`sid = …`);
# they count as weak names for the keys of structured data only (a Sentry event's cookies, a form).
SESSION = {"session", "sessionid", "sid", "jsessionid", "phpsessid"}
# ALLCAPS or lower-case run-together names: `WEBHOOKSECRET`, `dbpassword`, `ENCKEY`.
STRONG_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "accesskey", "privatekey", "secretkey")

# Values that are code, types or placeholders, never a secret.
NOT_VALUES = {"none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "bool",
              "optional", "any", "object", "secretstr", "required", "optional[str]", "self", "this",
              "env", "changeme", "redacted", "placeholder", "example", "dummy", "xxx", "todo"}

# Run on the lower-cased line: a secret word, the rest of the name, a separator, a value.
_KEYSEP = re.compile(
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|key|auth|credentials?|creds?|pat|sig(?:nature)?|cookie)"
    r"[\w.-]{0,30}?(?P<close>\\{0,2}[\"'`]?\]?\\{0,2}[\"']?)"
    r"(?:[ \t]{0,3}(?P<sep>:=|=>|\?=|[:=])|(?<=[\"'])[ \t]{0,3}(?P<comma>,)(?=[ \t]*\\*[\"']))[ \t]{0,5}"
    r"(?P<value>\\+\"[^\"\n]{0,400}?\\+\"|\"(?:[^\"\\\n]|\\.){0,400}\"|'[^'\n]{0,400}'|`[^`\n]{0,400}`"
    r"|[^\s'\"`,;&|)}\]\\]{1,400})")
_FLAG = re.compile(r"(?<![\w-])--(?P<name>[a-z][\w-]{1,40})(?:=|[ \t]+)(?P<value>\"[^\"\n]{1,400}\"|'[^'\n]{1,400}'|[^\s'\"]{4,400})")
_NETRC = re.compile(r"(?<!\S)password[ \t]+(\S+)")
# XML configuration: `<password>…</password>` (Maven settings.xml), `<add key="ApiKey" value="…"/>`.
_XML_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]{0,60})>([^<\s]{4,400})</\1>")
_XML_PAIR = re.compile(r"\b(?:key|name)=[\"']([\w.:-]{1,60})[\"'][ \t]+value=[\"']([^\"'\n]{4,400})[\"']", re.I)
_NETRC_LINE = re.compile(r"[ \t]*password[ \t]+(\S+)[ \t]*\r?")    # .netrc, one token per line
# A YAML block scalar under a name: `password: |`, `private_key: >-`; its body is the lines below.
_BLOCK = re.compile(r"([ \t]*)(?:- )?[\"']?([\w.-]{1,60})[\"']?[ \t]*:[ \t]*[|>][-+0-9]{0,2}[ \t]*(?:#.*)?\r?")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$@")
_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_SPACE = re.compile(r"\s")
_QUOTE = re.compile(r"\\*[\"'`]")
_CODE = re.compile(r"[()\[\]{}<>]")
_CAPWORDS = re.compile(r"(?:[A-Z][a-z]+)+")
_PREFIXES = ("$", "{{", "<", "%(", "#{", "sha1:", "sha256:", "sha512", "sha384", "md5:")


@lru_cache(maxsize=4096)
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
    if last.endswith(STRONG_ENDINGS):
        return "strong"
    return "weak" if last in WEAK or last.endswith("key") else ""


def secret_value(raw: str, strong: bool, env_style: bool = False, sep: str = "=", tight: bool = False
                 ) -> tuple[int, int] | None:
    """The (start, end) of the secret inside `raw` (a value as written), or None if it is not one."""
    start, end = 0, len(raw)
    quote = _QUOTE.match(raw)
    quoted = bool(quote) and len(raw) >= 2 * len(quote.group()) and raw.endswith(quote.group())
    if quoted:
        start, end = len(quote.group()), len(raw) - len(quote.group())
    value = raw[start:end]
    for scheme in ("Bearer ", "Basic ", "bearer ", "token "):
        if value.startswith(scheme):
            start, value = start + len(scheme), value[len(scheme):]
    if len(value) < 4 or "REDACTED" in value or value.lower() in NOT_VALUES:
        return None
    if value.startswith(_PREFIXES) or len(set(value)) <= 2 or value.lower().startswith(("your", "my-", "my_")):
        return None
    if (_SPACE.search(value) and not (quoted and env_style and strong)) or (value[0] in "@&*!" and _IDENT.fullmatch(value[1:])):
        return None   # prose (but a quoted `DB_PASS="…"` may hold spaces), or a YAML alias / anchor / tag
    if not strong:   # `key`, `auth`…: only a token-shaped random value (`acme/pay#123` is a ticket, not a key)
        return (start, end) if looks_random(value) and _TOKEN.fullmatch(value) else None
    if quoted or env_style:
        return start, end
    # An unquoted value: code unless it reads like a literal.
    if _IDENT.fullmatch(value) and not any(c.isdigit() for c in value):
        if tight and sep == "=" and _word_literal(value):
            return start, end   # `password=letmeinplease` in a log line, a DSN, `Password=…;`
        if sep != ":" or len(value) < 8 or _CAPWORDS.fullmatch(value):
            return None   # `token = next_token`, `secret: SecretStr`
    elif _CODE.search(value) or _DOTTED.fullmatch(value) or value.isdigit():
        return None   # `next_token()`, `os.environ[...]`, `self.token`
    return start, end


def _word_literal(value: str) -> bool:
    """A digit-free word after a tight `name=` that is not code: no snake_case or camelCase variable, no
    CONSTANT, no word that names a secret again (`password=password`, `token=TokenAuth`)."""
    low = value.lower()
    return (len(value) >= 8 and "_" not in value and not value.isupper()
            and not (value[0].islower() and any(c.isupper() for c in value))
            and not any(word in low for word in _SECRET_WORDS))


_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "value", "none", "null", "default")


def assignment_spans(line: str, low: str | None = None) -> list[tuple[int, int, str]]:
    """(start, end, family) of each secret value assigned to a secret-looking name in `line`."""
    low = line.lower() if low is None else low
    spans = []
    for m in _KEYSEP.finditer(low):
        begin = m.start()
        while begin > 0 and line[begin - 1] in _NAME_CHARS:
            begin -= 1
        if line[max(0, begin - 3):begin] == "://":
            continue   # URL user info: the URL detector masks just the password
        name = line[begin:m.start("close")].rstrip(".-")
        kind = strength(name)
        if not kind:
            continue
        sep, value = m.group("sep") or ",", m.start("value")
        raw = line[value:m.end("value")]
        env_style = (sep == "=" and m.start("sep") == m.start("close") and not m.group("close")
                     and value == m.end("sep") and (name.isupper() or line[begin - 1:begin] in ("?", "&")))
        tight = (sep == "=" and value == m.end("sep") and m.start("sep") == m.start("close") and not m.group("close")
                 and m.start("sep") > 0 and not line[m.start("sep") - 1].isspace())
        span = secret_value(raw, kind == "strong", env_style, sep, tight)
        if span:
            spans.append((value + span[0], value + span[1], "assignment"))
    if "</" in line or "value=" in low:
        for m in (*_XML_ELEMENT.finditer(line), *_XML_PAIR.finditer(line)):
            kind = strength(m.group(1).rpartition(":")[2])
            if kind and (span := secret_value(m.group(2), kind == "strong", True)):
                spans.append((m.start(2) + span[0], m.start(2) + span[1], "assignment"))
    if "machine" in low:   # .netrc: machine HOST login USER password SECRET
        spans += [(m.start(1), m.end(1), "assignment") for m in _NETRC.finditer(line)
                  if secret_value(m.group(1), True, True)]
    elif (m := _NETRC_LINE.fullmatch(line)) and secret_value(m.group(1), True, False, " "):
        spans.append((m.start(1), m.end(1), "assignment"))
    if "--" in line:
        for m in _FLAG.finditer(line):
            kind = strength(m.group("name"))
            span = secret_value(m.group("value"), kind == "strong", True) if kind else None
            if span:
                spans.append((m.start("value") + span[0], m.start("value") + span[1], "assignment"))
    return spans


def block_scalar_spans(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """The body of a YAML block scalar (`password: |` and the more-indented lines below it) whose
    name is a secret name; `text[start:end]` is the line that opens it."""
    m = _BLOCK.fullmatch(text, start, end)
    if not m or strength(m.group(2)) != "strong":
        return []
    indent, pos, body_end = len(m.group(1).expandtabs()), end + 1, end
    while pos < len(text):
        stop = text.find("\n", pos)
        stop = len(text) if stop < 0 else stop
        line = text[pos:stop]
        if line.strip() and len(line) - len(line.lstrip(" \t")) <= indent:
            break
        if line.strip():
            body_end = stop
        pos = stop + 1
    if body_end == end:
        return []
    first = end + 1 + len(text[end + 1:body_end]) - len(text[end + 1:body_end].lstrip())
    return [(first, body_end, "assignment")]
