"""Which files are indexed and what kind each is (code, test, doc, example, vendored)."""

from __future__ import annotations

import re
from pathlib import Path

MAX_FILE_BYTES = 1_000_000

_SKIP_DIRS = frozenset("""
node_modules bower_components vendor vendored _vendor third_party thirdparty third-party
site-packages .venv venv .git .hg .svn __pycache__ .tox .nox .mypy_cache .pytest_cache
.ruff_cache .eggs .idea .vscode
""".split())
_SKIP_EXTS = frozenset("""
png jpg jpeg gif bmp ico icns webp tif tiff psd svg eps ai pdf zip gz tgz bz2 xz 7z rar zst jar
war ear whl egg so dll dylib exe bin o a lib obj class pyc pyo pyd mo po pot woff woff2 ttf otf
eot mp3 mp4 m4a wav flac ogg avi mov mkv webm db sqlite sqlite3 pkl pickle npy npz h5 hdf5 hdf nc
grib parquet feather arrow onnx pt pth ckpt safetensors lock map csv tsv dat
""".split())
_SKIP_NAMES = frozenset({"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
                         "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "uv.lock"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__", "__test__",
                        "e2e", "testdata", "test_data", "testcases"})
_DOC_EXTS = frozenset({"md", "rst", "txt", "adoc", "rdoc", "markdown", "textile", "org", "tex", "ipynb"})
_DOC_DIRS = frozenset({"doc", "docs", "documentation", "changelog", "changes", "newsfragments",
                       "news", "changelog.d"})
_DOC_NAMES = frozenset({"changelog", "changes", "history", "news", "authors", "contributors",
                        "license", "licence", "copying", "notice", "readme"})
_EXAMPLE_DIRS = frozenset({"example", "examples", "demo", "demos", "sample", "samples",
                           "benchmarks", "bench", "tutorial", "tutorials"})
_CODE_EXTS = ("py pyi pyx pxd js jsx mjs cjs ts tsx go rs java kt kts scala rb php cs c h cc cpp cxx "
              "hpp hh m mm swift lua pl pm r jl ex exs erl hs ml clj sh bash zsh sql html htm css "
              "scss vue svelte dart groovy gradle yaml yml toml json ini cfg proto graphql tf")


# structured data (documents, records, fixtures, schemas): searched, but what they hold is data, not the behaviour an
# issue describes. Hand-written declarations (yaml, toml, ini: settings, CI) are left as code: they are often the fix site
_DATA_EXTS = frozenset({"xml", "json", "jsonl", "ndjson", "xsd", "rdf", "mrc", "marc", "plist", "pg_dump"})


def is_data_file(path: str) -> bool:
    """True for structured data files (`solrconfig.xml`, `fixtures.json`, a MARC record), not hand-written yaml/toml/ini."""
    return _ext(path) in _DATA_EXTS


_VERSIONED_ASSET_RE = re.compile(r"[-.]v?\d+\.\d+(?:\.\d+)*(?:[-.]\w+)?\.(?:js|css)$")   # jquery-3.5.1.js


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _skip_path(path: str) -> bool:
    parts = path.split("/")
    if any(p in _SKIP_DIRS for p in parts[:-1]):
        return True
    name = parts[-1]
    if (name in _SKIP_NAMES or ".min." in name or name.endswith("-min.js")
            or _VERSIONED_ASSET_RE.search(name)):
        return True
    return _ext(path) in _SKIP_EXTS


_BUILD_NAMES = frozenset({"makefile", "gnumakefile", "dockerfile", "containerfile", "jenkinsfile", "vagrantfile",
                          "rakefile", "gemfile", "procfile", "justfile", "build", "workspace", "snakefile",
                          "sconstruct", "sconscript", "brewfile", "podfile", "fastfile", "guardfile"})
_SCRIPT_DIRS = frozenset({"bin", "scripts", "script", "tools", "libexec", "hooks"})


def file_kind(path: str) -> str:
    """`code`, `test`, `doc`, `example` or `template` (issue / PR templates), from the path alone.

    An extension-less file is a document (README-like text) unless it is a build file
    (`Makefile`, `Dockerfile`, ...) or sits in a script directory (`bin/`, `scripts/`)."""
    low = path.lower()
    parts = low.split("/")
    name = parts[-1]
    stem = name.split(".", 1)[0]
    if ("issue_template" in parts[:-1] or "issue_templates" in parts[:-1] or "discussion_template" in parts[:-1]
            or stem in ("issue_template", "pull_request_template", "bug_report", "feature_request")
            or "pull_request_template" in parts[:-1]):
        return "template"
    if (any(p in _TEST_DIRS for p in parts[:-1]) or name.startswith("test_") or name == "conftest.py"
            or re.search(r"(?:_test|_tests|\.test|\.spec|_spec)\.\w+$", name)
            or re.match(r"tests?\.\w+$", name)):
        return "test"
    if _ext(low) in _DOC_EXTS or parts[0] in _DOC_DIRS or stem in _DOC_NAMES or (not _ext(low) and stem in _DOC_NAMES):
        return "doc"
    if any(p in _EXAMPLE_DIRS for p in parts[:-1]):
        return "example"
    if "." not in name.lstrip(".") and name not in _BUILD_NAMES and not any(p in _SCRIPT_DIRS for p in parts[:-1]):
        return "doc"
    return "code"


_NESTED_VENDOR_DIRS = frozenset({"packages", "extern", "externals", "_vendored", "_extern", "deps", "_deps"})


def _vendored(path: str, listed: set[str]) -> bool:
    """A third-party package copied inside a Python package (`requests/packages/urllib3/...`)."""
    parts = path.split("/")
    return any(parts[i] in _NESTED_VENDOR_DIRS and "/".join(parts[:i]) + "/__init__.py" in listed
               for i in range(1, len(parts) - 1))


def _read_text(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(16, len(text) // 100):     # not text after all
        return None
    lines = text.count("\n") + 1
    if len(text) / lines > 300 and max(len(line) for line in text.split("\n")) > 1000:   # minified
        return None
    return text
