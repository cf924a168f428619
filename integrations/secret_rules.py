"""Secret detectors: provider token formats, private keys, credentials in URLs and key-body lines.

Formats follow gitleaks' default rules (config/gitleaks.toml) for the services droid's users run,
made a little more lenient on length: a redactor that over-masks one token costs less than one that
lets a real token through. Each `Rule` names its family (for the benchmark) and the regex group to
mask (0: the whole match). `check` rejects a match that only looks like a secret.

Secret-named assignments (`password = "..."`) live in `integrations.secret_names`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One detector: a family name, a compiled regex, the group to mask, an optional check."""

    family: str
    regex: re.Pattern
    group: int | str = 0
    check: Callable[[str], bool] | None = None


def entropy(value: str) -> float:
    """Shannon entropy of `value` in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


_HEX = re.compile(r"[0-9a-fA-F]+")


def looks_random(value: str, min_len: int = 16, min_entropy: float = 3.5) -> bool:
    """True for a long, mixed, high-entropy string: not a word, a git SHA or a UUID."""
    if len(value) < min_len or entropy(value) < min_entropy:
        return False
    if not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    if _HEX.fullmatch(value) and len(value) in (7, 8, 10, 12, 40):  # git object names
        return False
    return not UUID.fullmatch(value)


def key_body(value: str) -> bool:
    """True when a bare base64 run looks like a line of a private key body (mixed case, random)."""
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value) and not _HEX.fullmatch(value)
            and entropy(value) >= 4.2)


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_END = r"(?![\w-])"   # a token ends where word characters and dashes stop

# Rules applied to the lines a trigger flagged (see integrations.redact).
PROVIDER_RULES = [
    Rule("aws_key_id", re.compile(r"(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])")),
    Rule("github", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,})")),
    Rule("gitlab", re.compile(r"\b(?:gl(?:pat|rt|dt|ft|ptt|soat|cbt|imt|agent|oas|ffct)-[\w.-]{20,}"
                              r"|GR1348941[\w-]{20,})")),
    Rule("slack", re.compile(r"\b(?:xox[abposrecd](?:\.xox[bp])?-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})")),
    Rule("slack_webhook", re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_-]{16,})"), 1),
    Rule("stripe", re.compile(r"\b(?:[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})")),
    Rule("google", re.compile(r"\bAIza[\w-]{30,}")),
    Rule("azure", re.compile(r"(?i:\b(?:AccountKey|SharedAccessKey|SharedSecret)\s*=\s*)([A-Za-z0-9+/]{20,}={0,2})"), 1),
    Rule("azure", re.compile(r"(?:^|[\\'\"`\s>=:(,)])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?![\w~.-])"), 1),
    Rule("azure", re.compile(r"[?&]sig=([A-Za-z0-9%+/=]{20,})"), 1),
    Rule("npm", re.compile(r"\bnpm_[A-Za-z0-9]{30,}")),
    Rule("pypi", re.compile(r"\bpypi-AgEIcHlwaS5vcmc[\w-]{20,}")),
    Rule("sentry", re.compile(r"\bsntry[su]_[A-Za-z0-9+/=_-]{20,}")),
    Rule("sentry", re.compile(r"(?i:[a-z][a-z0-9+.-]{1,20}://)([0-9a-f]{32})(?::[0-9a-f]{32})?@"), 1),
    Rule("anthropic", re.compile(r"\bsk-ant-[\w-]{20,}")),
    Rule("openai", re.compile(r"\bsk-(?:proj|svcacct|admin|None)-[\w-]{20,}|[\w-]{0,80}T3BlbkFJ[\w-]{10,}")),
    # Services droid's users run whose tokens carry a fixed prefix (gitleaks' default rules).
    Rule("vendor", re.compile(
        r"(?<![\w.+/-])(?:shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32,}|do[por]_v1_[a-f0-9]{40,}"
        r"|dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}|lin_(?:api|oauth)_[A-Za-z0-9]{32,}"
        r"|ntn_[A-Za-z0-9]{40,}|secret_[A-Za-z0-9]{43}|hv[sbr]\.[\w-]{24,}|SG\.[\w-]{16,32}\.[\w-]{30,}"
        r"|hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z]{34}|dapi[a-h0-9]{32}(?:-\d)?|NRA[KJ]-[A-Z0-9]{27}"
        r"|gl(?:sa|c)_[A-Za-z0-9_+/=-]{32,}|pul-[a-f0-9]{40}|AGE-SECRET-KEY-1[0-9A-Z]{50,}"
        r"|AT[AC]TT3[\w=-]{40,}|ya29\.[\w-]{20,}|(?:pub)?key-[a-f0-9]{32}"
        r"|SK[0-9a-fA-F]{32}|dckr_pat_[\w-]{27,}|pscale_(?:tkn|pw|oauth)_[\w.=-]{32,64}|rubygems_[a-f0-9]{48}"
        r"|figd_[\w-]{40,}|sq0(?:atp|csp)-[\w-]{22,43}|EAA[A-Za-z0-9]{60,})(?![\w-])")),
    Rule("vendor", re.compile(r"(?<![\w:])\d{5,16}:(A[\w-]{34})(?![\w-])"), 1),   # Telegram bot
    Rule("vendor", re.compile(r"(?:discord(?:app)?\.com/api/webhooks/\d+|webhook\.office\.com/webhookb2)/([\w@/-]{30,})"), 1),
    Rule("jwt", re.compile(r"\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*")),
    Rule("url_credentials", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@'\"<>]{0,100}:([^\s/@'\"<>]{1,200})@"), 1,
        lambda pw: not pw.startswith(("$", "{{", "<", "%(", "[REDACTED]")) and not set(pw) <= {"x", "X", "*"}),
    # A token as the URL's user name (`https://TOKEN@github.com/…`, how CI clones): only when it looks random.
    Rule("url_credentials", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://([\w.~+=-]{16,200})@[\w-]"), 1, looks_random),
    Rule("auth_header", re.compile(
        r"(?i:\b(?:proxy-)?authori[sz]ation[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest|apikey|sso-key)\s+)?)"
        r"([A-Za-z0-9._~+/=:-]{8,})"), 1,
        lambda v: v[:1] not in "${<" and not v.lower().startswith(("bearer", "basic", "token"))),
    # A bearer token with no header name (`got Bearer 3f9a…`, a pasted curl line cut short): only a random one.
    Rule("auth_header", re.compile(r"\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)(?![\w~+/-])"), 1,
         lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v) and entropy(v) >= 3.0),
]

PRIVATE_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
PUBLIC_BEGIN = re.compile(r"-----BEGIN (?:CERTIFICATE|[A-Z0-9 ]*PUBLIC KEY|X509 CRL|CERTIFICATE REQUEST)-----")
_PEM_END = re.compile(r"-----END[ A-Z0-9_-]{0,100}-----")
# What follows a BEGIN line whose END was cut off: key-body runs, line breaks (real or escaped).
_PEM_TAIL = re.compile(r"(?:(?:\\[rn]|[\s\"',+])+[A-Za-z0-9+/=:,-]{8,})*")


def pem_blocks(text: str, begin: re.Pattern = PRIVATE_BEGIN, limit: int = 40_000) -> list[tuple[int, int]]:
    """(start, end) of each PEM block `begin` opens: through its END line, or, when the text was cut
    before it, through the key-body lines that follow. Linear in the text, however many BEGINs."""
    spans = []
    for m in begin.finditer(text):
        stop = text.find("-----BEGIN", m.end())
        stop = min(len(text) if stop < 0 else stop, m.end() + limit)
        end = _PEM_END.search(text, m.end(), stop)
        spans.append((m.start(), end.end() if end else _PEM_TAIL.match(text, m.end(), stop).end()))
    return spans


# One line that is nothing but a long base64 run: a private key body line seen without its BEGIN
# line (a window into the middle of a key). Allows the decorations tools and diffs add.
PEM_LINE = Rule("private_key", re.compile(
    r"(?m)^[ \t]*(?:\d+[ \t:|]+)?[-+>]?[ \t]*[\"']?([A-Za-z0-9+/]{40,}={0,2})(?:\\n)?[\"',;\\]*[ \t]*\r?$"),
    1, key_body)
