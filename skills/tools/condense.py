"""Condense a long tool output (build log, test run) to the lines that matter, within a budget.

Every tool's output passes through `condense` before a model sees it: a 100,000-line log reaches
the model as its failures (tracebacks, compiler errors, pytest/JUnit failure sections, the
summary lines), with omission markers saying what was dropped.

How it works:

1. Lines are split the way universal-newline text mode does (``\\n``, ``\\r\\n`` and a lone
   ``\\r`` each end a line; Java's ``readLine`` counts the same way), so `kept_lines` are the
   line numbers an editor or a CI tool shows. (``str.splitlines`` would also split on ``\\f``,
   ``\\v``, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028/9.)
2. Each line gets a score from what it says (``Traceback``, ``error:``, ``[ERROR]``,
   ``FAILED``, ``<<< FAILURE!``, exception names, ...) after ANSI colours and timestamp
   prefixes are stripped; passing-test lines, progress meters and ``[INFO]`` chatter score 0.
   Only lines with a failure word are looked at closely, each distinct text once.
3. Continuation lines (stack frames, indented lines, a multi-line exception message, the
   body of a pytest FAILURES / ERRORS section or of a short-summary entry) join the block of
   the scored line above them. Touching blocks form a region that shares its best score, so a
   stack trace next to ``<<< FAILURE!`` outranks a stray logged exception.
4. With a ``baseline`` (a passing log of the same command), scored lines that also occur there
   (after normalising timestamps, durations, numbers, hex ids and temp paths) are worth much
   less, and new ones a little more, so what is new in the failing output wins.
5. Blocks are chosen greedily by value under the line budget. Later failures are worth a little
   more (the one that ends a log ended the run); a message repeated for other files or tests
   is worth less at each copy; a long block's first lines are worth more than its rest. Then
   come a line of context around what was chosen, the last and first lines of the log, a
   second line of context, and up to a third of the budget of the log's end, while the budget
   lasts.

`max_lines` bounds the number of input lines kept; the omission markers come on top. A run of
3 or more identical lines counts as one kept line and is shown once, with a marker.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

MAX_LINE_CHARS = 500  # a kept line is cut to this many characters in `text`
_SCAN_CHARS = 2000  # only this much of a line is looked at when scoring


@dataclass
class Condensed:
    """The condensed output: what the model sees, and which input lines it shows."""

    text: str  # kept lines (with "[... N lines omitted ...]" markers), bounded
    kept_lines: list[int]  # 1-based line numbers of the input that were kept, ascending
    total_lines: int
    dropped_lines: int


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


def _scores(clean: list[str]) -> tuple[list[float], list[int]]:
    """Scores of all lines (0 for the many not looked at closely), and the lines that start
    with "===" (pytest's section headers)."""
    # logs repeat themselves (half their lines or more are copies): look at each text once
    unique = list(dict.fromkeys(clean))
    score_of: dict[str, float] = {}
    for j in _candidates(unique):
        c = unique[j]
        if len(c) > _SCAN_CHARS:  # a huge line: its start and its end say the most
            score_of[c] = _score(c[: _SCAN_CHARS // 2] + " ... " + c[-_SCAN_CHARS // 2 :])
        else:
            score_of[c] = _score(c)
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


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass
class _Block:
    start: int  # 0-based, inclusive
    end: int  # 0-based, exclusive
    value: float


def _section_mask(clean: list[str], headers: list[int]) -> bytearray:
    """For each line: 1 inside a pytest FAILURES / ERRORS section, 2 inside its short test
    summary, else 0 (`headers`: the lines that start with "===", ascending)."""
    n = len(clean)
    mask = bytearray(n)
    bounds = [i for i in headers if _PYTEST_ANY_SECTION.match(clean[i])] + [n]
    for k in range(len(bounds) - 1):
        start, end = bounds[k] + 1, bounds[k + 1]
        if _PYTEST_SECTION.match(clean[bounds[k]]):
            mask[start:end] = b"\x01" * (end - start)
        elif _PYTEST_SUMMARY.match(clean[bounds[k]]):
            mask[start:end] = b"\x02" * (end - start)
    return mask


def _spans(clean: list[str], seeds: list[int], headers: list[int]) -> list[tuple[int, int]]:
    """The blocks, as (first line, end) pairs: a seed line and its continuation lines.

    A block is a seed line and the continuation lines under it: stack frames, indented lines,
    further "[ERROR]" lines, single blank lines, the lines of a multi-line exception message
    that end in stack frames, and everything inside a pytest FAILURES / ERRORS section.
    """
    n = len(clean)
    spans: list[tuple[int, int]] = []
    is_seed = bytearray(n)
    for s in seeds:
        is_seed[s] = 1
    in_section = _section_mask(clean, headers)
    frame = _FRAME.match
    for s in seeds:
        last = s
        blank_run = 0
        i = s + 1
        while i < n and not is_seed[i]:
            c = clean[i]
            if not c or c.isspace():
                blank_run += 1
                if in_section[i] == 1 or blank_run <= 1:
                    i += 1
                    continue
                break
            section = in_section[i]
            if (
                section == 1
                or (section == 2 and not c.startswith(_NOISE_START))  # the rest of a summary entry
                or c[0] in " \t"
                or frame(c)
                or (blank_run == 0 and c.startswith("[ERROR]"))
            ):
                last = i
                blank_run = 0
                i += 1
                continue
            # a multi-line exception message: attach it when stack frames follow soon
            j = i + 1
            limit = min(n, i + _MESSAGE_LOOKAHEAD)
            while j < limit and not is_seed[j] and not _STACK_FRAME.match(clean[j]):
                j += 1
            if j < limit and not is_seed[j]:
                last = j
                blank_run = 0
                i = j + 1
                continue
            break
        if i < n and is_seed[i] and blank_run <= 1:
            last = i - 1  # blank lines between two blocks keep the region in one piece
        spans.append((s, last + 1))
    return spans


def _blocks(spans: list[tuple[int, int]], value_of: list[float], core: int, clean: list[str]) -> list[_Block]:
    """Blocks from the spans; a region of touching blocks shares its best value.

    Within a region, a message repeated about other files or tests (the same traceback for
    each of 50 tests) is worth less at each copy, so that different failures show first.
    A block longer than `core` lines is split: its first `core` lines are worth the block's
    value, the rest a little less, so the start of every failure is chosen before the long
    tail of any one of them.
    """
    blocks: list[_Block] = []
    shapes: dict[str, str] = {}
    k = 0
    while k < len(spans):
        j = k + 1
        while j < len(spans) and spans[j][0] == spans[j - 1][1]:
            j += 1
        best = max(value_of[s] for s, _ in spans[k:j])
        copies: dict[str, int] = {}
        for s, e in spans[k:j]:
            value = 0.7 * best + 0.3 * value_of[s]
            if j - k > 1:
                head = shapes.get(clean[s])
                if head is None:
                    head = shapes[clean[s]] = _shape(clean[s])
                shape = head + "\n" + "\n".join(clean[s + 1 : min(e, s + core)])
                seen = copies.get(shape, 0)
                copies[shape] = seen + 1
                value -= min(3.0, 0.5 * seen)
            blocks.append(_Block(s, min(e, s + core), value))
            for part, t in enumerate(range(s + core, e, core), 1):
                blocks.append(_Block(t, min(e, t + core), value - 0.9 - 0.1 * part))
        k = j
    return blocks


def _in_baseline(baseline: str, lines: list[str]) -> list[bool]:
    """For each of `lines`, whether the passing log has it too (once normalised)."""
    cache: dict[str, str] = {}
    keys = []
    for s in lines:
        key = cache.get(s)
        if key is None:
            key = cache[s] = normalise(s, untag=False)
        keys.append(key)
    wanted = set(keys)
    prefixes = {_prefix(s) for s in lines}
    all_wanted = "\n".join(wanted).lower()
    stems = tuple(stem for stem in _STEMS if stem in all_wanted)
    base = list(dict.fromkeys(split_lines(baseline)))  # raw: only the lines looked at get cleaned
    stamped = _stamped(base)
    seen: set[str] = set()
    for i in _candidates(base, stems):
        s = base[i]
        if "\x1b" in s:
            s = _ANSI.sub("", s)
        if stamped:
            m = _TS_PREFIX.match(s)
            if m:
                s = s[m.end() :]
        if _prefix(s) in prefixes:
            key = normalise(s, untag=False)
            if key in wanted:
                seen.add(key)
    return [key in seen for key in keys]


# --------------------------------------------------------------------------------------------
# Selection and rendering


def _repeats(clean: list[str]) -> dict[int, int]:
    """Runs of >= 3 identical lines: first line of the run -> how many more follow it."""
    rep: dict[int, int] = {}
    same = itertools.compress(itertools.count(1), map(operator.eq, clean[1:], clean))
    run_start = run_end = -1
    for i in same:  # line i equals line i - 1
        if i == run_end + 1:
            run_end = i
            continue
        if run_end - run_start >= 2:
            rep[run_start] = run_end - run_start
        run_start, run_end = i - 1, i
    if run_end - run_start >= 2:
        rep[run_start] = run_end - run_start
    return rep


def _cut(line: str, length: int | None = None) -> str:
    line = _CONTROL.sub("\ufffd", line) if _CONTROL.search(line) else line
    length = len(line) if length is None else length
    if length > MAX_LINE_CHARS:
        return line[:MAX_LINE_CHARS] + f" [... {length - MAX_LINE_CHARS} chars cut]"
    return line


def _render(
    lines: Sequence[str] | Mapping[int, str], kept: list[int], rep: dict[int, int], total: int,
    lengths: Mapping[int, int] | None = None,
) -> str:
    """Kept lines (0-based, ascending) with omission markers between them (`lengths`: the real
    length of lines that were shortened before they got here)."""
    out: list[str] = []
    prev = -1
    for i in kept:
        gap = i - prev - 1
        if gap > 0:
            out.append(f"[... {gap} line{'s' if gap != 1 else ''} omitted ...]")
        out.append(_cut(_ANSI.sub("", lines[i]) if "\x1b" in lines[i] else lines[i],
                        lengths.get(i) if lengths else None))
        prev = i
        if i in rep:
            out.append(f"[... previous line repeated {rep[i]} more time{'s' if rep[i] != 1 else ''} ...]")
            prev = i + rep[i]
    gap = total - prev - 1
    if gap > 0:
        out.append(f"[... {gap} line{'s' if gap != 1 else ''} omitted ...]")
    return "\n".join(out)


def condense(text: str, max_lines: int = 100, baseline: str | None = None) -> Condensed:
    """Keep at most `max_lines` lines of `text`, the ones that explain a failure.

    `baseline`, when given, is the output of a passing run of the same command: lines found in
    it too are worth less. Never raises on odd input.
    """
    try:
        return _condense(text, max_lines, baseline)
    except Exception as exc:  # pragma: no cover - a safety net: a tool never raises
        lines = split_lines(text if isinstance(text, str) else str(text))
        total = len(lines)
        budget = max(0, int(max_lines or 0))
        kept = list(range(max(0, total - budget), total))
        body = _render(lines, kept, {}, total)
        return Condensed(
            f"[condense failed ({type(exc).__name__}); showing the last lines]\n{body}",
            [i + 1 for i in kept], total, total - len(kept),
        )


def _condense(text: str, max_lines: int, baseline: str | None) -> Condensed:
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
    lines, clean = _prepare(text)
    n = len(lines)
    budget = max(0, int(max_lines))
    if n <= budget:
        kept = list(range(n))
        return Condensed(_render(lines, kept, {}, n), [i + 1 for i in kept], n, 0)
    if budget == 0:
        return Condensed(_render(lines, [], {}, n), [], n, n)

    known = (lambda seen: _in_baseline(baseline, seen)) if baseline else None
    kept, rep = choose(clean, budget, known)
    body = _render(lines, kept, rep, n)
    return Condensed(body, [i + 1 for i in kept], n, n - len(kept))


def choose(
    clean: list[str], budget: int, known: Callable[[list[str]], list[bool]] | None = None, final: bool = True,
    where: tuple[list[int], int] | None = None,
) -> tuple[list[int], dict[int, int]]:
    """The lines to keep (0-based, ascending, at most `budget`) of cleaned lines, and the runs of
    identical lines (first line -> how many more).

    `known(lines)` says which of the given scored lines a passing log has too. With `final`
    false (a window in the middle of a longer log) the end of the window is not the end of the
    log: only failures and their context are chosen. `where`, when the lines are some lines of
    a longer log, is (each line's index in the log, the number of lines read so far).
    """
    n = len(clean)
    scores, headers = _scores(clean)
    rep = _repeats(clean)
    # a run of identical lines is shown once: the others can be neither seeds nor kept
    hidden = bytearray(n)
    for i, r in rep.items():
        hidden[i + 1 : i + 1 + r] = b"\x01" * r
        for k in range(i + 1, i + 1 + r):
            scores[k] = 0.0
    seeds = list(itertools.compress(range(n), map(SCORE_SEED.__le__, scores)))
    value_of = list(scores)

    # the same message again: the last copy keeps its value (it is the one that ended the run)
    last_of: dict[str, int] = {}
    keys = [_key(clean[i]) for i in seeds]
    for i, key in zip(seeds, keys, strict=True):
        last_of[key] = i
    for i, key in zip(seeds, keys, strict=True):
        if last_of[key] != i:
            value_of[i] -= 0.5

    if known is not None:
        for i, seen in zip(seeds, known([clean[i] for i in seeds]), strict=True):
            if seen:
                value_of[i] *= 0.3
            else:
                value_of[i] += 1.0

    core = max(4, min(12, budget // 8))
    blocks = _blocks(_spans(clean, seeds, headers), value_of, core, clean)

    # recency: the failure that ends a log is usually the one that ended the run
    position, end = where if where else (range(n), n)
    for b in blocks:
        at = position[b.start]
        b.value += 2.0 * at / end + (1.0 if final and at >= end - 30 else 0.0)

    chosen = bytearray(hidden)  # hidden lines count as taken: they cost nothing
    left = _take(blocks, chosen, budget)
    # then a line of context either side of what was chosen, the end and the start of the
    # log, and a second line of context, while the budget lasts
    left = _take(_context(chosen, hidden, 1), chosen, left)
    if final:
        ends = [_Block(i, i + 1, 0.0) for i in range(max(0, n - max(5, budget // 5)), n)]  # last line first
        ends += [_Block(i, i + 1, -1.0 - i) for i in range(min(n, 3))]  # then the first line
        left = _take(ends, chosen, left)
    left = _take(_context(chosen, hidden, 2), chosen, left)
    if final:
        # and, when little was worth showing, more of the end of the log
        tail = [_Block(i, i + 1, 0.0) for i in range(max(0, n - budget // 3), n)]
        left = _take(tail, chosen, left)
    return [i for i in itertools.compress(range(n), chosen) if not hidden[i]], rep


def _take(blocks: list[_Block], chosen: bytearray, left: int) -> int:
    """Choose blocks, best value first (later ones first among equals), while `left` lines of
    budget remain; a block that does not fit is cut. Returns the budget left."""
    order = sorted(blocks, key=lambda b: (-b.value, -b.start))
    for b in order:
        if left <= 0:
            break
        for i in range(b.start, b.end):
            if not chosen[i]:
                chosen[i] = 1
                left -= 1
                if left <= 0:
                    break
    return left


def _context(chosen: bytearray, hidden: bytearray, width: int) -> list[_Block]:
    """One-line blocks `width` lines before and after each chosen line, nearest the end first."""
    n = len(chosen)
    kept = [i for i in itertools.compress(range(n), chosen) if not hidden[i]]
    out = []
    for i in kept:
        for j in (i - width, i + width):
            if 0 <= j < n and not chosen[j]:
                out.append(_Block(j, j + 1, 0.0))
    return out


# --------------------------------------------------------------------------------------------
# CLI


def cli_main(argv: list[str]) -> int:
    """`droid condense FILE [--max-lines N] [--baseline PASSING_FILE] [--format json|text]`."""
    from skills.tools.condense_cli import cli_main as run

    return run(argv)
