"""The one redactor: every outbound path (Slack, model context, PRs, commits, logs) passes through it.

`Redactor(text)` masks the values droid was told (its own tokens) and anything a detector in
`integrations.secret_rules` / `integrations.secret_names` recognises, in whole multi-line text or in
one line cut out of it. Most text holds no secret, so a pre-filter finds candidate lines first: a
few regexes that each start with one literal (the fast path of Python's `re`), run over the text and
over its ASCII-lower-cased copy. Only the lines they flag are given to the detectors, and each
detector only to lines holding its hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from integrations.secret_names import assignment_spans, secret_value, strength
from integrations.secret_rules import PEM_BLOCK, PEM_LINE, PROVIDER_RULES

MASK = "[REDACTED]"

_SEP = r"[\w.-]{0,30}?[\"'`\]]{0,3}[ \t]{0,3}[:=]"
# Triggers on the original text (case matters for these shapes).
_CASED = [
    re.compile(r"A(?:KIA|SIA|BIA|CCA|3T|Iza|gEIcHlwaS5vcmc)"),
    re.compile(r"\n[ \t]*(?:\d+[ \t:|]+)?[-+>]?[ \t]*[\"']?[A-Za-z0-9+/]{40}"),
]
_PEM_FIRST = re.compile(r"[ \t]*(?:\d+[ \t:|]+)?[-+>]?[ \t]*[\"']?[A-Za-z0-9+/]{40}")
# Triggers on the lower-cased text: each begins with a literal so `re` can skip ahead quickly.
_LOWER = [
    re.compile(r"k(?:ey" + _SEP + r"|(?<=tok)en" + _SEP + r"|(?<=[sr]k)_(?:live|test|prod)_|(?<=sk)-(?:ant|proj|svcacct|admin|none)-)"),
    re.compile(r"g(?:h[pousr]_|ithub_pat_|l(?:pat|rt|dt|ft|ptt|soat|cbt|imt|agent|oas|ffct)-|r1348941)"),
    re.compile(r"x(?:ox[abposre][-.]|app-)"),
    re.compile(r"j(?:(?<=eyj)[a-z0-9_-]{10,}\.ey|(?<=t3blbkfj))"),
    re.compile(r"y(?:(?<=sntry)[su]_|(?<=py)pi-)"),
    re.compile(r"q~"),
    re.compile(r"://(?:[^\s/@]{1,300}@|hooks\.slack\.com/)"),
    re.compile(r"pass(?:w|phrase|" + _SEP + ")"),
    re.compile(r"pwd" + _SEP),
    re.compile(r"cre(?:d|(?<=secre)t)"),
    re.compile(r"auth(?!or(?!i[sz]))"),
    re.compile(r"npm_"),
    re.compile(r"sig="),
    re.compile(r"--[\w-]{0,20}(?:key|token|secret|pass|pwd)"),
]
# Which lower-cased literal a line must hold before a detector runs on it.
_HINTS = {
    "aws_key_id": ("akia", "asia", "abia", "acca", "a3t"), "github": ("gh", "github_pat_"),
    "gitlab": ("gl", "gr1348941"), "slack": ("xox", "xapp-"), "slack_webhook": ("hooks.slack.com",),
    "stripe": ("k_live_", "k_test_", "k_prod_", "whsec_"), "google": ("aiza",),
    "azure": ("key", "secret", "q~", "sig="), "npm": ("npm_",), "pypi": ("pypi-",),
    "sentry": ("sntry", "@"), "anthropic": ("sk-ant-",), "openai": ("sk-", "t3blbkfj"), "jwt": ("eyj",),
    "url_credentials": ("@",), "auth_header": ("authori",),
}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


class Redactor:
    """Masks known secret values and credential-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Also mask this value from now on."""
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret masked (whole documents or single lines alike)."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        spans = findings(text)
        if not spans:
            return text
        out, last = [], 0
        for start, end, _ in _merge(spans):
            out += [text[last:start], MASK]
            last = end
        out.append(text[last:])
        return "".join(out)

    def data(self, value):
        """Redact every string inside a JSON-like value; values under secret-named keys too."""
        if isinstance(value, str):
            return self(value) if len(value) >= 6 else value
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {(self(k) if isinstance(k, str) else k): self._item(k, v) for k, v in value.items()}
        return value

    def _item(self, key, value):
        if isinstance(key, str) and isinstance(value, str) and value:
            kind = strength(key)
            if kind and secret_value(value, kind == "strong", env_style=True):
                return MASK
        return self.data(value)


def findings(text: str) -> list[tuple[int, int, str]]:
    """(start, end, family) of every detected secret in `text`, in no particular order."""
    lines = _candidate_lines(text)
    spans = []
    if "-----BEGIN" in text:
        spans += [(m.start(), m.end(), PEM_BLOCK.family) for m in PEM_BLOCK.regex.finditer(text)]
    for start, end in lines.items():
        spans += [(start + s, start + e, family) for s, e, family in _line_findings(text[start:end])]
    return spans


def _candidate_lines(text: str) -> dict[int, int]:
    """{line start: line end} for every line a trigger flags."""
    lower = text.lower()
    if len(lower) != len(text):   # a few non-ASCII letters change length when lower-cased
        lower = text.translate(_ASCII_LOWER)
    lines: dict[int, int] = {}
    hits = [m.start() for regex in _LOWER for m in regex.finditer(lower)]
    hits += [m.end() - 1 for regex in _CASED for m in regex.finditer(text)]
    if _PEM_FIRST.match(text):
        hits.append(0)
    for pos in hits:
        start = text.rfind("\n", 0, pos) + 1
        if start not in lines:
            end = text.find("\n", pos)
            lines[start] = len(text) if end < 0 else end
    return lines


def _line_findings(line: str) -> list[tuple[int, int, str]]:
    """Secrets in one line: provider formats, key-body lines, secret-named assignments."""
    low = line.lower()
    spans = []
    for rule in PROVIDER_RULES:
        if any(h in low for h in _HINTS[rule.family]):
            for m in rule.regex.finditer(line):
                if rule.check is None or rule.check(m.group(rule.group)):
                    spans.append((m.start(rule.group), m.end(rule.group), rule.family))
    m = PEM_LINE.regex.match(line)
    if m and PEM_LINE.check(m.group(1)):
        spans.append((m.start(1), m.end(1), PEM_LINE.family))
    return spans + assignment_spans(line)


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping spans (overlaps joined)."""
    merged: list[tuple[int, int, str]] = []
    for start, end, family in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end, merged[-1][2])
        else:
            merged.append((start, end, family))
    return merged
