"""Source files at one commit: definitions (functions, classes) with their spans, calls, names."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_CALL = re.compile(r"(?<![\w$.])(?<!def )(?<!class )(?<!function )(?<!fun )(?<!func )(?<!fn )"
                   r"((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*)\s*\(")
_QUOTED = re.compile(r"""['"`‘’“”]([^'"`‘’“”\s]{2,80})['"`‘’“”]""")
_STOP = {
    "self", "cls", "this", "None", "none", "null", "undefined", "true", "false", "True", "False",
    "object", "int", "str", "float", "bool", "list", "dict", "tuple", "set", "bytes", "type",
    "NoneType", "function", "method", "module", "print", "len", "range", "isinstance", "super",
    "getattr", "setattr", "hasattr", "assert", "return", "lambda", "not", "and", "or", "is", "in",
    "if", "for", "while", "with", "new", "typeof", "var", "let", "const", "catch", "switch",
    "Object", "Array", "String", "Number", "Error", "Exception", "TypeError", "ValueError",
    "KeyError", "IndexError", "AttributeError", "NameError", "RuntimeError", "enumerate", "map",
    "zip", "open", "format", "join", "get", "items", "keys", "values", "append", "update", "id",
    "main", "run", "call", "apply", "next", "iter", "repr", "sorted", "min", "max", "sum", "abs",
    "char", "void", "public", "private", "static", "final", "where", "argument", "arguments",
    "elif", "else", "try", "except", "finally", "raise", "yield", "await", "async", "def",
    "class", "import", "from", "del", "global", "pass", "break", "continue",
}
_JS = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte")
_JVM = (".java", ".kt", ".scala", ".groovy")
_LANGUAGE_FAMILY = {**{e: _JS for e in _JS}, **{e: _JVM for e in _JVM}, ".py": (".py",)}
_PLATFORM_EXTS = {"python": (".py",), "javascript": _JS, "node": _JS, "java": _JVM,
                  "android": _JVM, "ruby": (".rb",), "go": (".go",), "php": (".php",),
                  "csharp": (".cs",), "elixir": (".ex", ".exs"), "swift": (".swift",),
                  "rust": (".rs",), "dart": (".dart",)}
# builtin → special methods it dispatches to
_DUNDER = {
    "bool": ("__bool__", "__nonzero__", "__len__"), "len": ("__len__",),
    "iter": ("__iter__",), "next": ("__next__",), "str": ("__str__", "__repr__"),
    "repr": ("__repr__",), "int": ("__int__", "__index__"), "float": ("__float__",),
    "hash": ("__hash__",), "list": ("__iter__", "__len__"), "tuple": ("__iter__", "__len__"),
    "sorted": ("__lt__", "__iter__"), "format": ("__format__",), "abs": ("__abs__",),
    "round": ("__round__",), "reversed": ("__reversed__", "__len__"),
}


@dataclass(frozen=True)
class Definition:
    name: str
    qualname: str
    kind: str  # "function" | "class"
    start: int  # 1-based, the def line
    end: int  # 1-based, inclusive

    def contains(self, line: int) -> bool:
        return self.start <= line <= self.end


_JS_DEF = [
    re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*\("),
    re.compile(r"^\s*(?:(?:export\s+)?(?:const|let|var)\s+)?(?:[\w$]+\.)*(?P<name>[A-Za-z_$][\w$]*)\s*[:=]\s*(?:async\s+)?function\b"),
    re.compile(r"^\s*(?:(?:export\s+)?(?:const|let|var)\s+)(?P<name>[A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>"),
    re.compile(r"^\s*(?:(?:public|private|protected|static|async|get|set|override|readonly|abstract)\s+)*(?P<name>[A-Za-z_$][\w$]*)\s*\([^;{}]*\)\s*(?::\s*[^{=;]+)?\{\s*$"),
]
_OTHER_DEF = [
    re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|protected|internal|static|final|synchronized|abstract|native|default|override|virtual|async|open|suspend|inline)\s+)*(?:<[^>]+>\s+)?[\w<>\[\],.?]+(?:\s*<[^>]*>)?\s+(?P<name>[A-Za-z_]\w*)\s*\([^;]*$"),
    re.compile(r"^\s*func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*[(<]"),
    re.compile(r"^\s*(?:[\w]+\s+)*(?:fun|fn|func)\s+(?:<[^>]+>\s*)?(?:[\w.]+\.)?(?P<name>[A-Za-z_]\w*)"),
    re.compile(r"^\s*def\s+(?:self\.)?(?P<name>[\w?!=]+)"),
    re.compile(r"^\s*(?:(?:public|private|protected|static|final|abstract)\s+)*function\s+&?(?P<name>[A-Za-z_]\w*)\s*\("),
]
_CLASS_DEF = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:(?:public|private|protected|internal|abstract|final|"
    r"static|sealed|data|open)\s+)*(?:class|interface|enum|object|struct|trait|module)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)")
_KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "function", "else", "new",
             "typeof", "do", "try", "with", "synchronized", "elif", "when", "super", "this",
             "throw", "await", "delete", "void", "case", "foreach", "using", "lock", "sizeof"}


def extract_definitions(path: str, text: str) -> list[Definition]:
    """Functions and classes of a source file with their line spans (Python via `ast`,
    other languages by declaration patterns with brace or indentation matching)."""
    if path.endswith((".py", ".pyw")):
        try:
            return _python_definitions(text)
        except (SyntaxError, ValueError, RecursionError):
            pass
    return _pattern_definitions(path, text)


def _python_definitions(text: str) -> list[Definition]:
    tree = ast.parse(text)
    out: list[Definition] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                qual = f"{prefix}.{child.name}" if prefix else child.name
                end = getattr(child, "end_lineno", None) or child.lineno
                out.append(Definition(child.name, qual, kind, child.lineno, end))
                visit(child, qual)
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _pattern_definitions(path: str, text: str) -> list[Definition]:
    lines = text.splitlines()
    is_js = path.endswith((".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte"))
    patterns = _JS_DEF if is_js else _OTHER_DEF + _JS_DEF[:1]
    raw: list[tuple[str, str, int, int]] = []
    for i, line in enumerate(lines, start=1):
        m = _CLASS_DEF.match(line)
        kind = "class"
        if not m:
            kind = "function"
            for p in patterns:
                m = p.match(line)
                if m and m.group("name") not in _KEYWORDS:
                    break
                m = None
        if not m:
            continue
        raw.append((m.group("name"), kind, i, _block_end(lines, i)))
    out: list[Definition] = []
    stack: list[Definition] = []
    for name, kind, start, end in raw:
        while stack and not stack[-1].contains(start):
            stack.pop()
        parent = next((d for d in reversed(stack) if d.kind == "class"), None)
        qual = f"{parent.qualname}.{name}" if parent else name
        d = Definition(name, qual, kind, start, max(end, start))
        out.append(d)
        stack.append(d)
    return out


def _block_end(lines: list[str], start: int) -> int:
    """End line of a block starting at `start`: brace matching, else indentation."""
    depth = 0
    opened = False
    for j in range(start - 1, min(len(lines), start + 400)):
        line = re.sub(r"""(["'`])(?:\\.|(?!\1).)*\1""", "", lines[j])
        line = line.split("//", 1)[0]
        for ch in line:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
                if opened and depth <= 0:
                    return j + 1
        if not opened and j >= start + 2:
            break
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    end = start
    for j in range(start, len(lines)):
        s = lines[j]
        if not s.strip():
            continue
        ind = len(s) - len(s.lstrip())
        if ind <= indent:
            if s.strip() in ("end", "}", "};", "end;"):
                end = j + 1
            break
        end = j + 1
    return end


class Source:
    """A file at one commit, with its definitions."""

    def __init__(self, path: str, lines: list[str]):
        self.path = path
        self.lines = lines
        self.defs = extract_definitions(path, "\n".join(lines))

    def enclosing(self, line: int, kinds: tuple[str, ...] = ("function",)) -> Definition | None:
        best: Definition | None = None
        for d in self.defs:
            if d.kind in kinds and d.contains(line) and (best is None or d.start >= best.start):
                best = d
        return best

    def scope(self, line: int) -> Definition:
        """The innermost function (else class) around `line`, else the module."""
        return (self.enclosing(line) or self.enclosing(line, ("class",))
                or Definition("<module>", "<module>", "module", 1, max(1, len(self.lines))))

    def named(self, name: str) -> list[Definition]:
        return [d for d in self.defs if d.name == name]

    def text(self, start: int, end: int) -> str:
        return "\n".join(self.lines[max(0, start - 1):end])

    def window(self, line: int, before: int = 3, after: int = 3) -> list[tuple[int, str]]:
        lo, hi = max(1, line - before), min(len(self.lines), line + after)
        return [(n, self.lines[n - 1]) for n in range(lo, hi + 1)]


def _calls(text: str) -> list[str]:
    """Names called in `text` (`foo(`, `obj.foo(` → `foo`, `obj.foo`), in order."""
    text = re.sub(r"""(["'])(?:\\.|(?!\1).)*\1""", "''", text)
    return [m.group(1) for m in _CALL.finditer(text)]

