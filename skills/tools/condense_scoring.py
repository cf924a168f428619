"""How `condense` reads a log: lines split as universal newlines do, cleaned (no ANSI escapes,
no timestamp prefix), normalised (for the baseline and repeated blocks), and scored (0 for
noise, about 10 for the line that says what failed). See skills/tools/condense.py.
"""

from __future__ import annotations

import bisect
import itertools
import re

_SCAN_CHARS = 2000  # only this much of a line is looked at when scoring


# --------------------------------------------------------------------------------------------
# Line splitting and cleaning


def split_lines(text: str, keep_last: bool = False) -> list[str]:
    """Split like universal-newline text mode: "\\n", "\\r\\n" and a lone "\\r" end a line.

    A final line terminator does not start another line ("a\\n" is one line, "" is none).
    """
    if not text:
        return []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "" and not keep_last:
        lines.pop()
    return lines


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b\r\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# "2022-05-30T09:11:02.8577255Z ", optionally after GitHub's "job<TAB>step<TAB>" (gh run view --log)
_TS_PREFIX = re.compile(
    r"(?:[^\t\n]{0,200}\t[^\t\n]{0,200}\t)?\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?"
    r"(?:Z|[+-]\d\d:?\d\d)?\]?\s?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _prepare(text: str) -> tuple[list[str], list[str]]:
    """The lines of `text`, and the same lines cleaned for reading: no ANSI escapes, and no
    leading timestamp when most lines have one. (Each distinct line is cleaned once.)"""
    lines = split_lines(text)
    fixed: dict[str, str] = {}
    if "\x1b" in text:
        ansi = _ANSI.sub
        for s in dict.fromkeys(lines):
            if "\x1b" in s:
                fixed[s] = ansi("", s)
    if _stamped(lines):
        match = _TS_PREFIX.match
        for s in dict.fromkeys(lines):
            c = fixed.get(s, s)
            m = match(c)
            if m:
                fixed[s] = c[m.end() :]
    clean = list(map(fixed.get, lines, lines)) if fixed else list(lines)
    return lines, clean


def _stamped(lines: list[str]) -> bool:
    """Whether most of the first non-blank lines start with a timestamp."""
    sample = [_ANSI.sub("", s) for s in lines[:200] if s.strip()][:50]
    return bool(sample) and sum(1 for s in sample if _TS_PREFIX.match(s)) * 2 >= len(sample)


# --------------------------------------------------------------------------------------------
# Normalisation (for the baseline and for spotting repeated blocks)

_NORM_SUBS = [
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{6,}\b"), "<hex>"),
    (re.compile(r"(?:/tmp|/var/folders|/private/var|/var/tmp|[A-Za-z]:\\[^\s]*\\Temp)[/\\][^\s'\":]*"), "<tmp>"),
    (re.compile(r"\d+(?:[.,]\d+)*"), "0"),  # numbers, so timestamps and durations too
]
_DIGITS = str.maketrans("0123456789", "0000000000")
_ID_TOKEN = re.compile(r"\S*(?:::|/|\\)\S*")  # a test id or a path


def _untag(line: str) -> str:
    """The line without a leading "[ERROR]"-style tag and leading blanks."""
    line = line.lstrip()
    if line.startswith("["):
        end = line.find("]", 1, 12)
        if end > 1 and line[1:end].isalpha():
            return line[end + 1 :].lstrip()
    return line


def _key(line: str) -> str:
    """A cheap key for spotting the same message twice: no tag, digits folded."""
    return _untag(line).translate(_DIGITS).rstrip()


def _shape(line: str) -> str:
    """What a message says, without the file, test or number it is about."""
    if line.startswith("___"):
        return "___"  # pytest's header of a failing test: the test's name is all it says
    return _ID_TOKEN.sub("<id>", normalise(line))


def normalise(line: str, untag: bool = True) -> str:
    """A line with timestamps, durations, numbers, hex ids and temp paths replaced (and by
    default without its "[ERROR]"-style tag)."""
    s = _untag(line[:_SCAN_CHARS]) if untag else line[:_SCAN_CHARS]
    for pat, rep in _NORM_SUBS:
        s = pat.sub(rep, s)
    return " ".join(s.split())


def _prefix(line: str) -> bytes:
    """A cheap stand-in for `normalise(line, untag=False)`: its first dozen characters that
    are not digits. Lines that normalise alike nearly always share it (a hex id, a temp path or
    a varying run of blanks at the very start are the exceptions), so only lines whose prefix
    matches need normalising."""
    return line[:32].encode("latin-1", "replace").translate(None, b"0123456789")[:12]


# --------------------------------------------------------------------------------------------
# Scoring


# Lines that mention failure words and still report nothing wrong.
_NOISE_START = (
    "Progress (", "Downloading from", "Downloaded from", "Downloading:", "Downloaded:",
    "PASSED ", "SKIPPED ", "XFAIL ", "XPASS ", "SUBPASSED",  # pytest -rA: tests that did not fail
)
_NOISE = re.compile(
    r"""^\s*(?:
        \S+::\S.*\ (?:PASSED|SKIPPED|XFAIL|XPASS|xfail|skipped|passed)\b
      | \S+::\S+\s*$                                # a bare test id (pytest --setup-show)
      | (?:SETUP|TEARDOWN)\s+[SMCPF]\s                # pytest --setup-show fixture lines
      | \d+(?:\.\d+)?s\ (?:call|setup|teardown)\ +\S+::  # pytest --durations
      | .*\ (?:PASSED|SKIPPED)\s*(?:\[\s*\d+%\])?$
      | .*\ \.\.\.\ (?:ok|skipped.*|expected\ failure)$
      | \S+\ >\ .*\ (?:PASSED|SKIPPED)$
    )""",
    re.X,
)
# "Failures: 0", "RUN_ERROR 0", "errors=0": a failure word followed by a zero count.
_ZERO_COUNT = re.compile(r"(?:error|fail|killed|timed_out|timeout)[a-z_]*\W{0,3}0(?![\d.])")

# Patterns tried at the start of a line, first match wins: (pattern, score).
_START_RULES: list[tuple[re.Pattern[str], float]] = [
    # generic status lines: they say that it failed, not what failed
    (re.compile(
        r"(?i:(?:\[\w+\]\s*)?(?:BUILD FAILURE|BUILD FAILED|COMPILATION ERROR\s*:?|Finished: FAILURE"
        r"|FAILURE!?|FAILED|ERROR!?|Results\s*:|\d+ errors?|\d+ warnings?)\s*$)"), 3.0),
    (re.compile(r"(?:\[\w+\]\s*)?(?:Failures|Errors|Tests in error|Failed tests)\s*:\s*$"), 6.0),
    (re.compile(r"E(?:\s{2,}\S|\s*$)"), 10.0),  # pytest's assertion explanation lines
    (re.compile(r"(?:SUB)?(?:FAILED|ERROR)(?:\(\S*\))?\s+\S+(?:::|\.py)"), 10.0),  # pytest short test summary
    (re.compile(r"=+ (?:FAILURES|ERRORS) =+\s*$"), 9.0),
    (re.compile(r"_{3,} .+ _{3,}\s*$"), 9.0),  # a failing test's header in FAILURES
    (re.compile(r"\S+\.py:\d+: (?:in \S+|\w*(?:Error|Exception|Failure|Exit|Interrupt)\w*)"), 9.0),
    (re.compile(r"=+ .*\b\d+ (?:failed|errors?)\b.* =+\s*$"), 7.0),  # pytest final line
    (re.compile(r"\s*\S+::\S.*\s(?:FAILED|ERROR)\b"), 5.0),  # pytest -v progress line
    (re.compile(r"(?:During handling of the above exception|The above exception was the direct cause)"), 9.0),
    (re.compile(r"\s*(?:Caused by|Suppressed):"), 7.0),
    (re.compile(r"(?:\[ERROR\]|ERROR\b|FATAL\b|\[FATAL\]|CRITICAL\b|Error:|error\b|fatal:|npm ERR!|##\[error\])"), 8.0),
    (re.compile(r"(?:FAILURE: |\* What went wrong|Execution failed for task|--- FAIL|FAIL\b|panic:|thread '.*' panicked)"), 9.0),
    (re.compile(r"\s*(?:[a-z_$][\w$]*\.)+[\w$]*(?:Exception|Error|Throwable|Failure|Fault)\b"), 7.0),
    (re.compile(r"[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure)(?::|$)"), 8.0),
    (re.compile(r"Killed\b|Segmentation fault"), 8.0),
]
_START_RULE = re.compile("|".join(f"(?P<r{k}>{p.pattern})" for k, (p, _) in enumerate(_START_RULES)))
_START_SCORE = {f"r{k}": s for k, (_, s) in enumerate(_START_RULES)}

# Patterns found anywhere in a line (on its lowercase form): (stem, pattern or None, score).
_ANY_RULES: list[tuple[str, re.Pattern[str] | None, float]] = [
    ("tests run:", re.compile(r"failures: [1-9]|errors: [1-9]"), 8.0),
    ("> task ", re.compile(r"failed$"), 8.0),
    ("failed", re.compile(r"\)\s+failed$"), 8.0),  # gradle "SomeTest > test() FAILED"
    ("error", re.compile(r"(?:^|[\s:])(?:fatal )?error(?:\[\w+\])?:\s"), 8.0),
    ("fatal", re.compile(r"(?:^|[\s:])fatal:\s"), 8.0),
    ("no space left", None, 8.0),
    ("segmentation fault", None, 8.0),
    ("core dumped", None, 8.0),
    ("out of memory", None, 8.0),
    ("outofmemory", None, 8.0),
    ("exit", re.compile(r"exit(?:ed with)? (?:code|status)\s*:?\s*[1-9]"), 7.0),
    ("non-zero exit", None, 7.0),
    ("exception", re.compile(r"(?:^|[\s.:])(?:[a-z_$][\w$]*\.)*[\w$]*exception\b"), 6.0),
    ("error", re.compile(r"(?:^|[\s.:])[\w$]*error\b(?![.-])"), 5.0),
    ("assert", re.compile(r"\bassert(?:ion)?(?:error)?\b"), 5.0),
    ("fail", re.compile(r"\bfail(?:ed|ure|ures|s|ing)?\b"), 5.0),
    ("fatal", None, 5.0),
    ("panic", None, 5.0),
    ("abort", None, 4.0),
    ("no such", None, 4.0),
    ("no space", None, 4.0),
    ("denied", None, 4.0),
    ("refused", None, 4.0),
    ("cannot", None, 4.0),
    ("can't", None, 4.0),
    ("could not", None, 4.0),
    ("unable", None, 4.0),
    ("not found", None, 4.0),
    ("does not exist", None, 4.0),
    ("timed out", None, 4.0),
    ("undefined", None, 4.0),
    ("unresolved", None, 4.0),
    ("not defined", None, 4.0),
]
_FRAME = re.compile(
    r"\s+(?:at\s|\.\.\. \d+ (?:more|common frames omitted)|File \"|from\s|#\d+\s)"
    r"|\s*(?:Caused by|Suppressed):"
    r"|\d+\s+\|"  # a compiler's source excerpt ("12 |     x = 1;")
)
_STACK_FRAME = re.compile(r"\s+at\s|\s+File \"")
_PYTEST_SECTION = re.compile(r"=+ (?:FAILURES|ERRORS) =+\s*$")
_PYTEST_ANY_SECTION = re.compile(r"={3,} .* ={3,}\s*$")
_PYTEST_SUMMARY = re.compile(r"=+ short test summary info =+\s*$")
_PYTEST_QUIET_SECTION = re.compile(r"=+ (?:PASSES|slowest .*durations.*|warnings summary) =+\s*$")
_MESSAGE_LOOKAHEAD = 8  # an exception message may span this many lines before its frames
_INFO_TAGS = ("[INFO]", "[DEBUG]", "[TRACE]", "[main] INFO", "[main] DEBUG")

SCORE_SEED = 3.0  # a line scoring at least this starts a block


def _score(c: str) -> float:
    """Score one cleaned line: 0 for noise, about 10 for the line that says what failed."""
    if c.startswith(_INFO_TAGS) and not (
        "<<<" in c or "BUILD FAILURE" in c or ("Tests run:" in c and "Failures: 0, Errors: 0" not in c)
    ):
        return 0.0
    low = c.lower()
    if c.startswith(_NOISE_START) or (
        ("::" in c or "passed" in low or "skipped" in low or " ok" in low or "expected failure" in low
         or "setup" in low or "teardown" in low) and _NOISE.match(c)
    ):
        return 0.0
    if "<<< fail" in low or "<<< error" in low or "traceback (most recent call last)" in low:
        return 10.0
    m = _START_RULE.match(c)
    if m:
        return _START_SCORE[m.lastgroup or ""]
    if "0" in low:
        low = _ZERO_COUNT.sub(" ", low)
    indented = c[:1] in (" ", "\t")
    if indented and _FRAME.match(c):
        return 0.0  # a stack frame belongs to the exception above it
    for stem, pat, score in _ANY_RULES:
        if stem in low and (pat is None or pat.search(low)):
            # an indented line is most often the middle of something (help text, source code)
            return score if not indented or score >= 7 else score * 0.4
    return 0.0


# A line is looked at closely only if its lowercase form has one of these stems (or it starts
# with one of _STARTS).
_STEMS = (
    "err", "fail", "exce", "fatal", "trace", "assert", "panic", "not ", "unable", "no s",
    "denied", "refused", "kill", "exit", "abort", "segm",
)


# Line starts that matter even without a stem (pytest's section and test headers), found as
# "\n" + start in the text.
_STARTS = ("___", "===")


def _candidates(clean: list[str], stems: tuple[str, ...] = _STEMS) -> list[int]:
    """Indices of the lines worth scoring: those with a stem, or a special start.

    Each stem is looked for in the whole text at once, at C speed, in an ASCII-lowercased
    one-byte-per-character copy (so offsets are the text's own); then all hits are mapped to
    their lines at once.
    """
    n = len(clean)
    if not n:
        return []
    blob = ("\n" + "\n".join(clean)).encode("latin-1", "replace").lower()
    starts = list(itertools.accumulate(map((1).__add__, map(len, clean)), initial=1))  # of each line
    find = blob.find
    hits: list[int] = []
    add = hits.append
    # (at most 5 bytes: CPython searches longer needles with a set-up cost on every call)
    needles = {stem.encode()[:5] for stem in stems} | {b"\n" + s.encode() for s in _STARTS}
    for needle in needles:
        skip = 1 if needle.startswith(b"\n") else 0
        p = find(needle)
        while p >= 0:
            add(p + skip)
            p = find(needle, p + len(needle))
    found = bytearray(n + 1)
    for i in map(bisect.bisect_right, itertools.repeat(starts), hits):
        found[i] = 1
    return list(itertools.compress(range(-1, n), found))


CACHE_LINES = 100_000  # a ScoreCache forgets everything when it holds this many lines
_CACHED_CHARS = 500  # longer lines are not cached


class ScoreCache(dict):
    """Scores of lines already looked at, across the windows of one long log (line -> score,
    or None for a line that was not looked at closely)."""


def _scores(clean: list[str], cache: ScoreCache | None = None) -> tuple[list[float], list[int]]:
    """Scores of all lines (0 for the many not looked at closely), and the lines that start
    with "===" (pytest's section headers)."""
    # logs repeat themselves (half their lines or more are copies): look at each text once
    unique = list(dict.fromkeys(clean))
    todo = unique if cache is None else [c for c in unique if c not in cache]
    score_of: dict[str, float] = {}
    for j in _candidates(todo):
        c = todo[j]
        if len(c) > _SCAN_CHARS:  # a huge line: its start and its end say the most
            score_of[c] = _score(c[: _SCAN_CHARS // 2] + " ... " + c[-_SCAN_CHARS // 2 :])
        else:
            score_of[c] = _score(c)
    if cache is not None:
        if len(cache) + len(todo) > CACHE_LINES:
            cache.clear()
        cache.update((c, score_of.get(c)) for c in todo if len(c) <= _CACHED_CHARS)
        get = cache.get
        score_of.update((c, v) for c in unique if (v := get(c)) is not None)
    scores = list(map(score_of.get, clean, itertools.repeat(0.0)))
    looked_at = list(itertools.compress(range(len(clean)), map(score_of.__contains__, clean)))
    headers = [i for i in looked_at if clean[i].startswith("===")]
    test_headers = [i for i in looked_at if clean[i].startswith("___")]
    # pytest's sections about passing tests (their captured output, their durations) are noise;
    # outside FAILURES / ERRORS a "___ name ___" header is not a failing test's
    bounds = [i for i in headers if _PYTEST_ANY_SECTION.match(clean[i])] + [len(clean)]
    failing = bytearray(len(clean))
    for k in range(len(bounds) - 1):
        start, end = bounds[k], bounds[k + 1]
        title = clean[start]
        if _PYTEST_SECTION.match(title):
            failing[start:end] = b"\x01" * (end - start)
        elif _PYTEST_QUIET_SECTION.match(title):
            for i in range(start + 1, end):
                scores[i] = 0.0
    for i in test_headers:
        if not failing[i]:
            scores[i] = 0.0
    return scores, headers
