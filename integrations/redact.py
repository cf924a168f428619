"""The one redactor: every outbound path (Slack, model context, PRs, commits, logs) passes through it.

`Redactor(text)` masks the values droid was told (its own tokens) and anything a detector in
`integrations.secret_rules` / `integrations.secret_names` recognises, in whole multi-line text or in
one line cut out of it (a private key body line is recognised by its shape; a multi-line secret is
masked line by line, so line numbers stay true). Most text holds no secret, so a pre-filter finds
candidate lines first: a dozen triggers that each start with one literal (the fast path of Python's
`re`, ~2 GB/s), run in cache-sized chunks over the text and its ASCII-lower-cased copy. A line a
trigger flags goes only to the detectors that trigger concerns. See bench/redact.py for the figures.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from integrations.secret_commands import command_spans
from integrations.secret_names import (
    SESSION,
    assignment_spans,
    block_scalar_spans,
    secret_value,
    strength,
)
from integrations.secret_rules import PEM_LINE, PROVIDER_RULES, PUBLIC_BEGIN, pem_blocks
from integrations.secret_views import ESCAPE, base64_runs, decoded

MASK = "[REDACTED]"

# A name's tail and its separator. Code that passes or annotates a variable (`key=cache_key,`,
# `token = self.token`, `key: int = 0`) is no hit; the detectors would reject it anyway.
_SEP = (r"[\w.-]{0,30}?(?:[\\\"'`\]]{0,5}[ \t]{0,3}"
        r"(?::(?![ \t]*(?:int|str|bool|bytes|float|dict|list|optional)\b)"
        r"|=(?![ \t]*(?:[a-z_][a-z_.]*[,)]|[\[({]|self\.|none\b)))"
        r"|\\?[\"'][ \t]{0,3},|>(?=[^<\s]{4,400}</))")
_NAMES = "names"          # secret-named assignments (integrations.secret_names)
_PEM = "pem_line"         # a key-body line on its own
_CMD = "command"          # a password given to a known command by a short flag (`mysql -pX`)
# (trigger, runs on the lower-cased text?, {alternative: the detector families its line goes to}).
# Each trigger begins with one literal character or string, so `re` skips ahead at memchr-like
# speed; its alternatives are named groups, so a hit sends its line only to the detectors it concerns.
_TRIGGERS = [
    (r"k(?:(?P<names>ey" + _SEP + r"|(?<=tok)en" + _SEP + r"|(?<=cook)ie" + _SEP + r")|(?P<stripe>(?<=[sr]k)_(?:live|test|prod)_)"
     r"|(?P<sk>(?<=sk)-(?:ant|proj|svcacct|admin|none)-)"
     r"|(?P<vendor>(?<=sk)[0-9a-f]{32}|ey-[0-9a-f]{32}|(?<=nrak)-|(?<=dck)r_pat_))",
     True, {"names": (_NAMES,), "stripe": ("stripe",), "sk": ("anthropic", "openai"), "vendor": ("vendor",)}),
    (r"g(?:(?P<git>h[pousr]_|ithub_pat_|l(?:pat|rt|dt|ft|ptt|soat|cbt|imt|agent|oas|ffct)-|r1348941)"
     r"|(?P<sig>(?<=sig)(?:nature)?" + _SEP + r")|(?P<vendor>l(?:sa|c)_|(?<=fig)d_|(?<=rubyg)ems_|(?<=sg)\.))", True,
     {"git": ("github", "gitlab"), "sig": ("azure", _NAMES), "vendor": ("vendor",)}),
    (r"x(?:ox[abposrecd][-.]|app-)", True, {None: ("slack",)}),
    (r"j(?:(?P<jwt>(?<=eyj)[a-z0-9_-]{10,}\.ey)|(?P<openai>(?<=t3blbkfj)))", True,
     {"jwt": ("jwt",), "openai": ("openai",)}),
    (r"y(?:(?P<sentry>(?<=sntry)[su]_)|(?P<vendor>a29\.))", True, {"sentry": ("sentry",), "vendor": ("vendor",)}),
    (r"q(?:(?P<azure>~)|(?P<vendor>(?<=sq)0(?:atp|csp)-))", True, {"azure": ("azure",), "vendor": ("vendor",)}),
    (r"://(?:[^\s/@]{1,300}@|hooks\.slack\.com/|[\w.-]{0,20}discord(?:app)?\.com/api/webhooks/|[\w-]{1,60}\.webhook\.office\.com/)",
     True, {None: ("url_credentials", "sentry", "slack_webhook", "vendor")}),
    (r"p(?:(?P<names>ass(?:w|phrase|" + _SEP + r")|wd" + _SEP + r"|at[\\\"'`\]]{0,5}[ \t]{0,3}[:=,])"
     r"|(?P<npm>(?<=np)m_)|(?P<vendor>(?<=shp)(?:at|ss|ca|pa)_|(?<=dop)_v1_|(?<=dp)\.[a-z]{2,5}\.|ul-[0-9a-f]{40}"
     r"|scale_(?:tkn|pw|oauth)_|(?<=ap)i_|(?<=dap)i[a-h0-9]{32}))", True,
     {"names": (_NAMES,), "npm": ("npm",), "vendor": ("vendor",)}),
    (r"cre(?:d|(?<=secre)t)", True, {None: ("azure", _NAMES, "vendor")}),
    (r"auth(?!or(?!i[sz]))", True, {None: ("auth_header", _NAMES, "vendor")}),
    (r"bearer\s", True, {None: ("auth_header",)}),
    (r"_(?:(?<=ntn_)|(?<=hf_)|(?<=o[or]_v1_))", True, {None: ("vendor",)}),
    (r"hv[sbr]\.", True, {None: ("vendor",)}),
    (r"--[\w-]{0,20}(?:key|token|secret|pass|pwd|pat|sig|cookie|auth|cred)", True, {None: (_NAMES,)}),
    (r" -(?:[paub]|-(?:http-|proxy-)?user|-body)", True, {None: (_CMD,)}),
    (r"set[ \t](?:(?<=config set )|(?<=configure set ))", True, {None: (_CMD,)}),
    (r"A(?:(?P<aws>KIA|SIA|BIA|CCA|3T)|(?P<google>Iza)|(?P<pypi>gEIcHlwaS5vcmc)|(?P<azure>ccountKey)"
     r"|(?P<vendor>T[AC]TT3|GE-SECRET-KEY-1|(?<=EA)A[A-Za-z0-9]{60}|(?<=\d:A)[\w-]{34}))", False,
     {"aws": ("aws_key_id",), "google": ("google",), "pypi": ("pypi",), "azure": ("azure",), "vendor": ("vendor",)}),
    (r"\n[ \t\d:|+>\"'-]{0,12}+[A-Za-z0-9+/]{40,}+={0,2}+(?:\\n)?+[\"',;\\]*+[ \t]*+\r?(?=\n|\Z)",
     False, {None: (_PEM,)}),
]
_LOWER = [(re.compile(rx), {k: frozenset(v) for k, v in fams.items()}) for rx, low, fams in _TRIGGERS if low]
_CASED = [(re.compile(rx), {k: frozenset(v) for k, v in fams.items()}) for rx, low, fams in _TRIGGERS if not low]
_PEM_FIRST = re.compile(_TRIGGERS[-1][0][2:])
_RULES: dict[str, list] = {}
for _rule in PROVIDER_RULES:
    _RULES.setdefault(_rule.family, []).append(_rule)
_CHUNK = 1 << 17
_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


class Redactor:
    """Masks known secret values and credential-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({f for s in secrets for f in encodings(s)}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Also mask this value (and its encoded forms) from now on."""
        new = encodings(secret) - set(self._secrets)
        if new:
            self._secrets = sorted([*self._secrets, *new], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret masked (whole documents or single lines alike)."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        spans = findings(text, self._secrets)
        if not spans:
            return text
        out, last = [], 0
        for start, end, _ in _merge(spans):
            out += [text[last:start], _mask(text[start:end])]
            last = end
        out.append(text[last:])
        return "".join(out)

    def data(self, value):
        """Redact every string inside a JSON-like value; values under secret-named keys too.

        A list of Slack blocks is one message cut into pieces (a long line is cut mid-word at a
        section's size limit): a secret the cut splits is masked in every piece it spans."""
        if isinstance(value, str):
            return self(value) if len(value) >= 6 else value
        if isinstance(value, (list, tuple)):
            if len(value) > 1 and all(isinstance(v, dict) and isinstance(v.get("type"), str) for v in value):
                value = self._across(value)
            out = [self._pair(v) if _is_pair(v) else self.data(v) for v in _flag_values(value)]
            return tuple(out) if isinstance(value, tuple) else out
        if isinstance(value, dict):
            return {(self(k) if isinstance(k, str) else k): self._item(k, v) for k, v in value.items()}
        return value

    def _across(self, blocks: list[dict]) -> list[dict]:
        """The blocks with each secret found in their texts read as one masked, piece by piece."""
        pieces = list(_texts(blocks))
        joined = "".join(text for _, _, text in pieces)
        cuts, at = [], 0
        for _, _, text in pieces:
            at += len(text)
            cuts.append(at)
        spans = [(s, e) for s, e, _ in findings(joined, self._secrets)]
        spans += [(m.start(), m.end()) for secret in self._secrets for m in re.finditer(re.escape(secret), joined)]
        if not spans:     # (a secret found only in the whole: cut in two, or cut off from its name)
            return blocks
        merged = [(s, e) for s, e, _ in _merge([(s, e, "") for s, e in spans])]
        blocks = copy.deepcopy(blocks)
        start = 0
        for (path, key, text), end in zip(pieces, cuts, strict=True):
            parts = [(max(s, start) - start, min(e, end) - start) for s, e in merged if s < end and e > start]
            if parts:
                out, last = [], 0
                for s, e in parts:
                    out += [text[last:s], MASK]
                    last = e
                _walk(blocks, path)[key] = "".join([*out, text[last:]])
            start = end
        return blocks

    def _item(self, key, value):
        if isinstance(key, str) and key.lower().replace("_", "-") in COOKIE_KEYS:
            return _cookies_masked(value)
        if isinstance(key, str) and isinstance(value, str) and value:
            kind = strength(key) or ("weak" if key.lower().rsplit(".", 1)[-1].lstrip("_") in SESSION else "")
            if kind and secret_value(value, kind == "strong", env_style=True):
                return MASK
        return self.data(value)

    def _pair(self, pair):
        """A `[name, value]` pair (Sentry's headers, cookies and query strings) read as `{name: value}`."""
        out = [self(pair[0]) if len(pair[0]) >= 6 else pair[0], self._item(pair[0], pair[1])]
        return tuple(out) if isinstance(pair, tuple) else out


# Where every value is a credential, whatever its name: cookies (`sessionid=…; csrftoken=…`).
COOKIE_KEYS = {"cookie", "cookies", "set-cookie", "http.request.header.cookie"}
_COOKIE_VALUE = re.compile(r"(=[ \t]*)([^;,\s]{4,})")
_FLAG_NAME = re.compile(r"--?([A-Za-z][\w-]{0,40})")


def _is_pair(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str) and 0 < len(value[0]) <= 100


def _cookies_masked(value):
    """Every cookie's value masked, its name kept: a string of `name=value; ...`, a mapping or pairs of them."""
    if isinstance(value, str):
        masked = _COOKIE_VALUE.sub(lambda m: m.group(1) + MASK, value)
        return masked if masked != value or len(value) < 4 or "=" in value else MASK
    if isinstance(value, dict):
        return {k: _cookies_masked(v) if isinstance(v, str) and "=" in v else (MASK if isinstance(v, str) else
                _cookies_masked(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = [[v[0], MASK] if _is_pair(v) else _cookies_masked(v) for v in value]
        return tuple(out) if isinstance(value, tuple) else out
    return value


def _flag_values(items):
    """An argv-like list with the value after a secret-named flag (`--password`, `--api-key`) masked."""
    out, mask_next = list(items), False
    for i, item in enumerate(out):
        if mask_next and isinstance(item, str) and secret_value(item, True, env_style=True):
            out[i] = MASK
        m = _FLAG_NAME.fullmatch(item) if isinstance(item, str) else None
        mask_next = bool(m) and strength(m.group(1)) == "strong"
    return out


def _texts(value, path=()):
    """(path to the owning dict, key, text) of every `text` string in Block Kit blocks, in reading order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield path, key, item
            elif isinstance(item, (dict, list)):
                yield from _texts(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))


def _walk(value, path):
    for step in path:
        value = value[step]
    return value


def encodings(secret: str) -> set[str]:
    """A known secret as it may be written: as is, percent-encoded (a URL, a form), and the part of its
    base64 that does not depend on what surrounds it (`Basic base64(user:secret)`, a dockerconfig `auth`),
    for each of the three alignments, standard and URL-safe alphabets."""
    if not secret or len(secret) < 6:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    if len(secret) >= 12:
        raw = secret.encode("utf-8", "surrogatepass")
        for k in range(3):
            encoded = base64.b64encode(b"\0" * k + raw).decode()
            core = encoded[-(-8 * k // 6):8 * (k + len(raw)) // 6]    # the characters only the secret's bits set
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return {f for f in forms if len(f) >= 6}


def findings(text: str, known: Iterable[str] = (), *, views: bool = True) -> list[tuple[int, int, str]]:
    """(start, end, family) of every detected secret in `text`, in no particular order; the lines that hold
    escapes (JSON, percent-encoding, HTML entities) are also read decoded, where `known` values are looked for too."""
    lines = _candidate_lines(text)
    spans = []
    if "-----BEGIN" in text:
        spans += [(start, end, "private_key") for start, end in pem_blocks(text)]
    for start, (end, families) in lines.items():
        spans += [(start + s, start + e, family) for s, e, family in _line_findings(text[start:end], families)]
        if _NAMES in families and end < len(text):
            spans += block_scalar_spans(text, start, end)
    if spans and "-----BEGIN" in text:
        public = pem_blocks(text, PUBLIC_BEGIN)
        spans = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in public)]
    if views:
        spans += _encoded_findings(text, known)
        spans += [(start, end, "base64") for start, end, decoded in base64_runs(text)
                  if findings(decoded, known, views=False) or any(secret in decoded for secret in known)]
    return spans


def _encoded_findings(text: str, known: Iterable[str]) -> list[tuple[int, int, str]]:
    """Secrets seen only once the escapes are decoded, as spans of `text`: each run of adjacent lines that hold
    an escape is decoded (integrations.secret_views) and searched, and each finding mapped back."""
    spans, blocks = [], []
    for m in ESCAPE.finditer(text):
        if blocks and m.start() <= blocks[-1][1]:
            continue          # (the search back below stops at the block's end: linear in the text)
        start = text.rfind("\n", 0, m.start()) + 1
        if blocks and start == blocks[-1][1] + 1:
            blocks[-1][1] = _line_end(text, m.start())
        else:
            blocks.append([start, _line_end(text, m.start())])
    for start, end in blocks:
        view, back = decoded(text[start:end])
        found = [(s, e) for s, e, _ in findings(view, views=False)]
        found += [(m.start(), m.end()) for secret in known for m in re.finditer(re.escape(secret), view)]
        for s, e in found:
            a, b = back(s, e)
            spans.append((start + a, start + b, "encoded"))
    return spans


def _candidate_lines(text: str) -> dict[int, tuple[int, set]]:
    """{line start: (line end, detector families)} for every line a trigger flags."""
    lines: dict[int, tuple[int, set]] = {}
    if _PEM_FIRST.match(text):
        lines[0] = (_line_end(text, 0), {_PEM})
    offset = 0
    while offset < len(text):   # chunks of whole lines: the passes then run in cache
        cut = _line_end(text, offset + _CHUNK)
        chunk = text[offset:cut] if offset or cut < len(text) else text
        _flag_chunk(chunk, offset, text, lines)
        offset = cut + 1
    return lines


def _flag_chunk(chunk: str, offset: int, text: str, lines: dict[int, tuple[int, set]]) -> None:
    lower = chunk.lower()
    if len(lower) != len(chunk):   # a few non-ASCII letters change length when lower-cased
        lower = chunk.translate(_ASCII_LOWER)
    hits = [(m.start(), families[m.lastgroup]) for regex, families in _LOWER for m in regex.finditer(lower)]
    hits += [(m.start() + (m.group()[:1] == "\n"), families[m.lastgroup])
             for regex, families in _CASED for m in regex.finditer(chunk)]
    for pos, families in hits:
        start = text.rfind("\n", 0, offset + pos) + 1
        if start in lines:
            lines[start][1].update(families)
        else:
            lines[start] = (_line_end(text, offset + pos), set(families))


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _line_findings(line: str, families: set) -> list[tuple[int, int, str]]:
    """Secrets in one line, looked for by the detectors of `families` only."""
    spans = []
    for family in families:
        for rule in _RULES.get(family, ()):
            for m in rule.regex.finditer(line):
                if rule.check is None or rule.check(m.group(rule.group)):
                    spans.append((m.start(rule.group), m.end(rule.group), rule.family))
    if _PEM in families:
        m = PEM_LINE.regex.match(line)
        if m and PEM_LINE.check(m.group(1)):
            spans.append((m.start(1), m.end(1), PEM_LINE.family))
    if _NAMES in families:
        spans += assignment_spans(line)
    if _CMD in families:
        spans += command_spans(line)
    return spans


def _mask(secret: str) -> str:
    """MASK for each line the secret spans, line breaks kept: line numbers stay true after redaction."""
    if "\n" not in secret and "\r" not in secret:
        return MASK
    return "".join(MASK + line[len(line.rstrip(_BREAKS)):] for line in secret.splitlines(keepends=True))


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
