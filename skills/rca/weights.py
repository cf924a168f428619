"""Weights of the evidence signals (locations) and commit links (suspect commits)."""

from __future__ import annotations

# Points of each signal (a location's score is the sum over its signals, each counted once at
# its strongest). Stack weights decay from the innermost in-app frame: 1, .63, .45, .36, ...
W_STACK = 3.0
W_MESSAGE_QUALIFIED = 2.5  # `Class.method` / `module.func` named in the exception message
W_MESSAGE_NAME = 1.5  # a bare function name in the message (quoted, dotted, called, snake/camel)
W_CALLEE_CALLER_LINE = 1.6  # called on the failing line of test/caller code (no app frame below)
W_CALLEE_CRASH_LINE = 0.8  # called on the crash line of app code (its result may be the bad value)
W_CALLER_WINDOW = 0.5  # called just before the failing line (built the object that failed)
W_PROVENANCE = 2.5  # the wrongly-typed value that failed entered our code here
W_ATTR_INIT = 1.2  # constructor of the object that lacks the attribute
W_ATTR_EARLY_RETURN = 0.6  # ... and it returns before assigning that attribute
W_ATTR_ASSIGN = 0.6  # a method that assigns the missing attribute
W_DUNDER = 1.0  # special method a builtin call on the failing line dispatches to
W_LITERAL = 0.4  # a quoted literal of the message (a key, a name) appears in the function
W_HISTORY = 1.2  # x exp(-age/30 days) of the function's last change before first-seen
W_SAME_FILE_RECENT = 0.8  # recently changed function in a file of the stack (not in the stack)
W_CALLEE_OF_SUSPECT = 0.3  # x parent's score (capped): called by a suspect not in the stack
W_VALUE_SOURCE = 1.5  # its return value was assigned to a variable the crash line uses
W_HIDDEN_CAUSE = 2.5  # called in the `try:` body whose error the crash line re-raised
RECENCY_DAYS = 30.0
RECENT_WINDOW_DAYS = 180.0  # recency scans walk this much history (older lines count as old)
# Suspect commits: evidence points, times a recency factor relative to the youngest candidate
# (code that ran fine for months rarely breaks by itself; a stronger link still wins).
W_COMMIT_FRAME_LINE = 2.0  # x frame weight: last changed a frame line
W_COMMIT_FUNCTION = 1.5  # x relative location score x share of the function's lines
MIN_DIRECT_FUNCTION = 0.3  # function points that count as a direct link
W_COMMIT_FILE = 0.15  # / rank: only changed a file of the stack before first-seen
W_COMMIT_FUNCTION_LOG = 0.3  # / rank: changed the innermost function, no line of it left
FUNCTION_LOG_COMMITS = 8  # the innermost function's last changes looked at (git log -L)
COMMIT_MORE_LINKS = 0.3  # weight of a commit's links to further locations beyond its strongest
# Recency is scale-free: (youngest + DAYS) / (age + DAYS), so a commit twice as old as the
# youngest direct suspect needs twice its evidence, whether that is 3 weeks against 10 days or
# 4 years against 2. (An exponential decay over days, floored at 0.1, made any commit a few
# months older than the youngest worth a tenth, whatever it wrote.) Chosen on the dev set
# (21 repositories, 117 cases): top-1 69 -> 75; powers 0.75-1 and DAYS 1-14 all give 75.
COMMIT_RECENCY_DAYS = 7.0
COMMIT_RECENCY_POWER = 1.0
COMMIT_SIZE_FILES = 30.0  # x (1 + files changed / this) ** -COMMIT_SIZE_POWER: wide, mechanical
COMMIT_SIZE_POWER = 0.5  # commits (renames, reformatting, copyright years) explain one line less
NON_APP_DIRS = ("examples", "example", "docs", "doc", "benchmarks", "bench", "scripts",
                "tools", "contrib/examples", ".meta", "samples", "demo")
# A widely used helper (at least HELPER_FANIN call sites) failing on its own arguments keeps
# HELPER_FACTOR of its stack weight; the first caller that made the value gets the points.
HELPER_FANIN = 5
HELPER_FACTOR = 0.4
W_CALLER_OF_HELPER = 3.0
