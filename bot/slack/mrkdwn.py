"""The one module that makes text droid did not write safe to show in Slack mrkdwn.

The rule (every builder in bot/slack/blocks.py follows it):

* **All text is foreign until proven otherwise.** A builder escapes every string it puts into a
  mrkdwn field (section, context, the top-level `text` that drives notifications) with `render`:
  `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (the only three Slack decodes), and invisible
  format characters that disguise text (direction overrides and isolates, zero-width spaces,
  tag characters) are removed. So `<!channel>`, `<@U…>`, `<#C…>`, `<!subteam^…>` and
  `<https://evil|https://github.com/…>` from a user, an alert, a ticket, a file or the model
  render as plain text that notifies no one. Call sites pass raw text and never pre-escape.
* **droid's own links and mentions are tokens.** `link(url, label)` and `mention(user_id)` return
  a token: the link or mention wrapped in private-use sentinels and sealed with an HMAC under a
  key this process made. `render` turns a token back into `<url|label>` / `<@U…>` only when the
  seal checks and the shape is right (an http(s) URL; a `^[UW][A-Z0-9]+$` user id); anything
  else, forged or stale (a token from before a restart), shows as plain text. Tokens are plain
  `str`, so they survive f-strings, joins, the redactor and the database. droid never builds a
  special mention (`<!here>` …): there is no helper for one.
* **Model output** goes through `from_model(text, hosts)`: links to the configured GitHub, Jira
  and Sentry hosts become droid links that show their real URL; every other link, Markdown or
  Slack style, stays as literal text; `javascript:` and other schemes never become links. A URL
  to any other host (bare, or inside a literal link) is put in inline code, because Slack would
  otherwise link and unfurl it by itself.
* **Quoted content** goes through `code(text)` / `code_block(text)`: Slack has no backtick
  escape, so backticks that would close the span are replaced by the look-alike `ˋ` (U+02CB
  MODIFIER LETTER GRAVE ACCENT): inline code replaces every backtick, a block replaces runs of
  three or more (`ˋˋˋ`), which reads like a fence but does not end one.
* **plain_text** fields (headers, button labels, file titles) go through `plain(text)`: no
  mrkdwn is parsed there, but direction overrides are still removed and tokens become readable.

markupsafe's `Markup` was considered and not used: it escapes quotes to HTML entities that Slack
shows literally, and its `__html__` protocol would treat HTML-safe text as mrkdwn-safe.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import quote, urlsplit

_KEY = secrets.token_bytes(32)       # until `use_key`: per process (tokens from another process render as text)
_KEY_LABEL = b"droid mrkdwn seal v1"
_OPEN, _SEP, _CLOSE = "\ue000", "\ue001", "\ue002"
_UNIT = "\x1f"                       # between a link's URL and its label inside a token
_TOKEN = re.compile(f"{_OPEN}([^{_OPEN}{_SEP}{_CLOSE}]*){_SEP}([0-9a-f]{{16}}){_CLOSE}")
USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
# Unicode format (Cf), control (Cc, but not \t \n), private-use (Co) and surrogate (Cs) code points:
# direction overrides and isolates, zero-width spaces, tag characters… ZWJ (U+200D) stays: it joins emoji.
# Also the letters that draw nothing (Hangul fillers, U+034F, U+17B4/5): a name or line made of them looks blank.
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    "\u180e\u200b-\u200c\u200e-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\uf8ff\ufeff"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_LOOKALIKE = "\u02cb"               # ˋ
_SLACK_LINK = re.compile(r"<((?:https?|[a-z][a-z0-9+.-]*):[^<>|\s]*)(?:\|([^<>]*))?>", re.I)
_MD_LINK = re.compile(r"\[([^\[\]\n]{0,300})\]\(\s*<?([^()\s<>]+)>?\s*\)")
# What Slack turns into a link by itself in mrkdwn text, outside code: URLs with a scheme, `www.` names.
_BARE_URL = re.compile(r"(?<![\w/@.-])(?:[a-z][a-z0-9+.-]{1,20}://|www\.)[^\s<>`|()\[\]\ue000-\ue002]+", re.I)
# Code spans and fences (Slack links nothing inside them) and droid's tokens: left as they are.
_KEEP = re.compile(f"```.*?```|`[^`\n]+`|{_TOKEN.pattern}", re.S)


# -- the primitives ------------------------------------------------------------------------------

def use_key(secret: str) -> None:
    """Seal with a key derived from `secret` (droid's signing secret), so every process of one deployment —
    a `droid worker` that wrote a result, the control plane after a restart — opens the others' tokens.
    Foreign text still cannot forge one: it would need the secret. Without a secret the key stays random."""
    global _KEY
    if secret:
        _KEY = hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def seal_key() -> str:
    """The sealing key, hex, for a `droid worker` this process sends a job to (jobs already carry credentials)."""
    return _KEY.hex()


def use_seal_key(key_hex: str) -> None:
    """Seal with the control plane's key (from a job), so its results' links open there."""
    global _KEY
    _KEY = bytes.fromhex(key_hex)


def clean(text: str) -> str:
    """Remove invisible format and control characters (direction overrides, zero-width, tags)."""
    text = str(text).replace("\u2028", "\n").replace("\u2029", "\n").replace("\r\n", "\n")
    return _INVISIBLE.sub("", text)


def escape(text: str) -> str:
    """Text shown as-is in mrkdwn: invisible characters removed, then `&`, `<`, `>` escaped."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(text: str) -> str:
    """Make a whole string safe for a mrkdwn field: escape everything, re-open droid's sealed tokens."""
    text = "" if text is None else str(text)
    out, last = [], 0
    for match in _TOKEN.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(_open(match.group(1), match.group(2), mrkdwn=True))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def plain(text: str) -> str:
    """For plain_text fields and non-Slack sinks: tokens become readable text, invisibles removed."""
    text = "" if text is None else str(text)
    return clean(_TOKEN.sub(lambda m: _open(m.group(1), m.group(2), mrkdwn=False), text))


# -- what droid itself builds --------------------------------------------------------------------

def link(url: str, label: str | None = None) -> str:
    """A link droid builds (PR, Sentry, Jira, file, permalink); an unusable URL gives the label as text."""
    url = clean(url or "").strip()
    label = clean(label).strip() if label else ""
    if not _http_url(url):
        return f"{label} ({url})" if label and url else (label or url)
    return _seal(url + (_UNIT + label if label and label != url else ""))


def mention(user_id: str) -> str:
    """A mention of a user id droid validated (`^[UW][A-Z0-9]+$`); anything else is plain text."""
    user_id = str(user_id or "")
    return _seal("@" + user_id) if USER_ID.match(user_id) else (f"@{user_id}" if user_id else "someone")


def one_line(text: str) -> str:
    """Foreign text inside droid's own formatting (`*…*`, `_…_`, a list item): one line, no fence."""
    text = re.sub(r"\s*\n\s*", " ", clean("" if text is None else str(text))).strip()
    return re.sub(r"`{3,}", lambda m: _LOOKALIKE * len(m.group(0)), text)


def code(text: str) -> str:
    """Inline code that cannot be closed early: backticks become ˋ, line breaks spaces."""
    body = clean(text).replace("`", _LOOKALIKE).replace("\n", " ").strip()
    return f"`{body or ' '}`"


def code_block(text: str) -> str:
    """A fenced block that quoted content cannot end: runs of 3+ backticks become ˋˋˋ."""
    body = re.sub(r"`{3,}", lambda m: _LOOKALIKE * len(m.group(0)), clean(text).strip("\n"))
    return f"```\n{body or ' '}\n```"


# -- model output --------------------------------------------------------------------------------

def allowed_hosts(settings) -> tuple[str, ...]:
    """The hosts model output may link to: the configured GitHub, Jira and Sentry."""
    hosts = []
    for name in ("github_url", "jira_url", "sentry_url"):
        host = _host(getattr(settings, name, "") or "")
        if host:
            hosts.append(host)
    return tuple(hosts)


def from_model(text: str, hosts=()) -> str:
    """Model output: links to `hosts` (or their subdomains) become droid links showing the real URL;
    every other link stays literal text (escaped later by the builder)."""
    text = "" if text is None else str(text)
    hosts = tuple(h.lower() for h in hosts if h)

    def convert(url: str, label: str | None, original: str) -> str:
        url = clean(url).strip()
        if not (_http_url(url) and _host_allowed(_host(url), hosts)):
            return original
        label = clean(label or "").strip()
        real = link(url)
        return real if not label or label == url or label.rstrip("/") == url.rstrip("/") else f"{label} ({real})"

    text = _SLACK_LINK.sub(lambda m: convert(m.group(1), m.group(2), m.group(0)), text)
    text = _MD_LINK.sub(lambda m: convert(m.group(2), m.group(1), m.group(0)), text)
    return _inert_urls(text, hosts)


def _inert_urls(text: str, hosts: tuple[str, ...]) -> str:
    """Every URL Slack would link by itself (outside code and droid's links) becomes a droid link when
    its host is allowed, else inline code, which Slack neither links nor unfurls."""
    def one(m: re.Match) -> str:
        url = m.group(0).rstrip(".,;:!?)]}'\"")
        tail = m.group(0)[len(url):]
        full = url if "://" in url else "https://" + url
        if _http_url(full) and _host_allowed(_host(full), hosts):
            return link(url) + tail if "://" in url else url + tail
        return f"`{url}`{tail}"

    out, last = [], 0
    for keep in _KEEP.finditer(text):
        out += [_BARE_URL.sub(one, text[last:keep.start()]), keep.group(0)]
        last = keep.end()
    out.append(_BARE_URL.sub(one, text[last:]))
    return "".join(out)


# -- internals -----------------------------------------------------------------------------------

def _seal(payload: str) -> str:
    payload = payload.replace(_OPEN, "").replace(_SEP, "").replace(_CLOSE, "")
    return f"{_OPEN}{payload}{_SEP}{_mac(payload)}{_CLOSE}"


def _mac(payload: str) -> str:
    return hmac.new(_KEY, payload.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]


def _open(payload: str, mac: str, *, mrkdwn: bool) -> str:
    """A token's text: the live link or mention when sealed by this process, else plain text."""
    sealed = hmac.compare_digest(mac, _mac(payload))
    if payload.startswith("@"):
        user_id = payload[1:]
        if sealed and mrkdwn and USER_ID.match(user_id):
            return f"<@{user_id}>"
        return escape(payload) if mrkdwn else clean(payload)
    url, _, label = payload.partition(_UNIT)
    if sealed and mrkdwn and _http_url(url):
        return f"<{_encode_url(url)}|{escape(label)}>" if label else f"<{_encode_url(url)}>"
    shown = f"{label} ({url})" if label else url
    return escape(shown) if mrkdwn else clean(shown)


def _encode_url(url: str) -> str:
    """A URL inside `<…|…>`: `|`, `<`, `>`, spaces percent-encoded, `&` escaped."""
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]~_").replace("&", "&amp;")


def _http_url(url: str) -> bool:
    if not url or any(c.isspace() or c in "\\<>\"" for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _host_allowed(host: str, hosts: tuple[str, ...]) -> bool:
    return bool(host) and any(host == h or host.endswith("." + h) for h in hosts)
