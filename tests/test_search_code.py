"""search_code / `droid locate`: ranking, tokenisation, caching and robustness on real git repos."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from skills.tools.base import ToolContext
from skills.tools.search_code import (
    CodeIndex,
    FileHit,
    analyse_query,
    clean_query,
    cli_main,
    default_cache_dir,
    format_hits,
    search_code_tool,
    split_identifier,
)

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
           "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                          cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def make_repo(root: Path, files: dict[str, str | bytes], commit: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write(root, files)
    if commit and files:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


SHOP = {
    "shop/billing/invoice.py": '''"""Invoices."""


class Invoice:
    def __init__(self, lines):
        self.lines = lines

    def total(self):
        return compute_invoice_total(self.lines)


def compute_invoice_total(lines, tax_rate=0.2):
    """Sum the invoice lines and add tax."""
    subtotal = sum(line.amount for line in lines)
    return subtotal * (1 + tax_rate)
''',
    "shop/billing/report.py": '''from shop.billing.invoice import compute_invoice_total


def monthly_report(invoices):
    totals = [compute_invoice_total(i.lines) for i in invoices]
    # compute_invoice_total is called for every invoice; compute_invoice_total is cheap
    return sum(totals)
''',
    "shop/webhooks/sender.py": '''import time

import requests

MAX_ATTEMPTS = 5


class WebhookSender:
    """Deliver webhook payloads to the merchant's endpoint."""

    def send(self, url, payload):
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = requests.post(url, json=payload, timeout=10)
            except requests.Timeout:
                time.sleep(2 ** attempt)   # back off, then retry the delivery
                continue
            if response.status_code < 500:
                return response
        raise DeliveryFailed(url)


class DeliveryFailed(Exception):
    pass
''',
    "shop/auth/login.py": '''def login(username, password):
    """Check the password hash and open a session for the user."""
    user = find_user(username)
    if user is None or not user.check_password(password):
        raise PermissionError("bad credentials")
    return open_session(user)


def find_user(username):
    return None


def open_session(user):
    return {"user": user}
''',
    "web/static/parser.js": '''export function parseHTTPResponse(raw) {
  const [head, body] = raw.split("\\r\\n\\r\\n");
  return { head, body };
}

const retryCount = 3;
export const fetchWithRetry = async (url) => {
  for (let i = 0; i < retryCount; i++) { try { return await fetch(url); } catch (e) { } }
};
''',
    "tests/test_sender.py": '''from shop.webhooks.sender import WebhookSender


def test_webhook_retries_on_timeout():
    sender = WebhookSender()
    # the webhook delivery is retried when the endpoint times out
    assert sender
''',
    "README.md": "# Shop\n\nInvoices, webhooks and login. Webhook delivery retries on timeout.\n",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("shop")
    repo = make_repo(root / "repo", SHOP)
    return repo, root / "cache"


def paths(hits: list[FileHit]) -> list[str]:
    return [h.path for h in hits]


def test_the_file_defining_a_named_function_ranks_first(shop):
    repo, cache = shop
    hits = CodeIndex.open(repo, cache_dir=cache).search("compute_invoice_total returns the wrong amount")
    assert hits[0].path == "shop/billing/invoice.py"          # the definition, not the heavier caller
    assert hits[0].symbols[0] == "compute_invoice_total"
    assert "shop/billing/report.py" in paths(hits)
    start, end = hits[0].ranges[0]
    assert 1 <= start <= 12 <= end                             # the range covers the definition
    assert all(isinstance(h.score, float) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_identifiers_are_split_on_camel_and_snake_case(shop):
    assert split_identifier("parseHTTPResponse") == ["pars", "http", "respons", "parsehttprespons"]   # stemmed
    assert split_identifier("retry_count") == ["retri", "count", "retrycount"]
    assert split_identifier("__init__") == ["init"]
    repo, cache = shop
    index = CodeIndex.open(repo, cache_dir=cache)
    assert index.search("parse http response")[0].path == "web/static/parser.js"
    # snake_case in the query finds the camelCase definition, and the whole identifier is matched
    hit = index.search("where is retry_count used?")[0]
    assert hit.path == "web/static/parser.js"
    assert "parseHTTPResponse" in index.search("parse_http_response")[0].symbols


def test_natural_language_query_finds_the_right_file(shop):
    repo, cache = shop
    index = CodeIndex.open(repo, cache_dir=cache)
    hits = index.search("Webhook deliveries are not retried with back-off when the merchant endpoint times out")
    assert hits[0].path == "shop/webhooks/sender.py"           # source before its test and the README
    assert "WebhookSender.send" in hits[0].symbols
    assert paths(index.search("users cannot log in: the password check fails"))[0] == "shop/auth/login.py"


def test_a_path_in_a_traceback_is_a_strong_signal(shop):
    repo, cache = shop
    issue = """Invoice totals are wrong in the monthly report

Traceback (most recent call last):
  File "/srv/app/venv/lib/python3.11/site-packages/shop/auth/login.py", line 3, in login
    user = find_user(username)
PermissionError: bad credentials
"""
    hits = CodeIndex.open(repo, cache_dir=cache).search(issue)
    assert hits[0].path == "shop/auth/login.py"
    q = analyse_query(issue)
    assert q.paths[0][0].endswith("shop/auth/login.py") and "login" in q.idents


def test_query_analysis_of_an_issue():
    issue = """`Session.resolve_redirects` breaks with sphinx.ext.autodoc enabled
<!-- please describe -->
Versions:
numpy: 1.17.3
pandas: 1.0.3
scipy: None
"""
    cleaned = clean_query(issue)
    assert "numpy" not in cleaned and "please" not in cleaned and "resolve_redirects" in cleaned
    q = analyse_query(issue)
    assert ("session", "resolveredirects") in q.quals
    assert ["sphinx", "ext", "autodoc"] in [comps for comps, _ in q.dotted]
    assert q.idents["resolveredirects"] == 1.0 and "numpy" not in q.idents
    assert q.terms["resolveredirect"] > q.terms.get("enabled", 0)


def test_cache_is_reused_for_a_commit_and_rebuilt_after_a_new_one(tmp_path):
    repo = make_repo(tmp_path / "repo", {"app/core.py": "def alpha_handler():\n    return 1\n"})
    cache = tmp_path / "cache"
    first = CodeIndex.open(repo, cache_dir=cache)
    assert not first.reused and first.commit == git(repo, "rev-parse", "HEAD").strip()
    again = CodeIndex.open(repo, cache_dir=cache)
    assert again.reused and again.db_path == first.db_path
    assert again.search("alpha_handler")[0].path == "app/core.py"

    write(repo, {"app/extra.py": "def beta_handler():\n    return 2\n"})
    dirty = CodeIndex.open(repo, cache_dir=cache)                # uncommitted work is indexed too
    assert dirty.indexed == ["app/extra.py"] and dirty.key != first.key
    assert dirty.search("beta_handler")[0].path == "app/extra.py"

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    committed = CodeIndex.open(repo, cache_dir=cache)             # same content: nothing to index
    assert committed.reused and committed.commit != first.commit
    assert committed.search("beta_handler")[0].path == "app/extra.py"


def test_cli_json_output_has_exactly_the_documented_keys(shop, capsys):
    repo, cache = shop
    code = cli_main(["--repo", str(repo), "--query", "compute_invoice_total", "--top", "3",
                     "--format", "json", "--cache-dir", str(cache)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"files"}
    assert 1 <= len(out["files"]) <= 3
    for entry in out["files"]:
        assert {"path", "score", "symbols"} <= set(entry) <= {"path", "score", "symbols", "ranges"}
        assert isinstance(entry["path"], str) and isinstance(entry["score"], float)
        assert isinstance(entry["symbols"], list)
    assert out["files"][0]["path"] == "shop/billing/invoice.py"


def test_cli_text_output_and_query_file(shop, tmp_path, capsys):
    repo, cache = shop
    query = tmp_path / "issue.md"
    query.write_text("Webhook sender gives up too early on timeouts", encoding="utf-8")
    assert cli_main(["--repo", str(repo), "--query-file", str(query), "--cache-dir", str(cache)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("shop/webhooks/sender.py (") and "symbols: " in first and "lines " in first
    assert cli_main(["--repo", str(tmp_path / "missing"), "--query", "x", "--cache-dir", str(cache)]) == 2


def test_non_git_directory_binary_and_unicode_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))   # never see a repository above
    root = tmp_path / "plain"
    write(root, {
        "src/café.py": "def grüße(name):\n    \"\"\"Begrüßung auf Deutsch.\"\"\"\n    return f'Hallo {name}'\n",
        "src/日本.py": "def 挨拶():\n    return 'こんにちは'\n",
        "src/blob.bin": b"\x00\x01\x02binary\x00data" * 100,
        "src/image.png": b"\x89PNG\r\n\x1a\n\x00\x00",
        "src/broken.py": "def broken(:\n    pass\n",
        "node_modules/lib/index.js": "function grüße() {}\n",
    })
    cache = tmp_path / "cache"
    index = CodeIndex.open(root, cache_dir=cache)
    assert index.commit is None and sorted(index.indexed) == ["src/broken.py", "src/café.py", "src/日本.py"]
    hit = index.search("grüße Begrüßung")[0]
    assert hit.path == "src/café.py" and hit.symbols == ["grüße"]
    assert index.search("挨拶")[0].path == "src/日本.py"
    assert index.search("broken")[0].path == "src/broken.py"   # a syntax error falls back to regexes
    everything = paths(index.search("binary data png index grüße broken", top=50))
    assert not {"src/blob.bin", "src/image.png", "node_modules/lib/index.js"} & set(everything)
    assert CodeIndex.open(root, cache_dir=cache).reused
    write(root, {"src/new_module.py": "def gamma():\n    pass\n"})
    assert CodeIndex.open(root, cache_dir=cache).indexed == ["src/new_module.py"]   # only what changed


def test_empty_repository_and_empty_query_do_not_crash(tmp_path):
    empty = make_repo(tmp_path / "empty", {})
    index = CodeIndex.open(empty, cache_dir=tmp_path / "cache")
    assert index.commit is None
    assert index.search("anything at all") == []
    assert index.search("") == [] and index.search("   ", top=5) == []
    assert format_hits(index.search("x")) == "No matching files."
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    assert CodeIndex.open(empty_dir, cache_dir=tmp_path / "cache").search("x") == []
    with pytest.raises(FileNotFoundError):
        CodeIndex.open(tmp_path / "does-not-exist", cache_dir=tmp_path / "cache")


def test_stop_words_and_punctuation_only_queries(shop):
    repo, cache = shop
    index = CodeIndex.open(repo, cache_dir=cache)
    assert index.search("the of and is it") == []
    assert index.search("!!! ??? ...") == []


def test_format_hits_is_bounded():
    hits = [FileHit(f"pkg/module_{i}.py", 1.0 / (i + 1), [f"Klass{i}.method_{j}" for j in range(8)],
                    [(10 * j + 1, 10 * j + 9) for j in range(3)]) for i in range(200)]
    text = format_hits(hits, max_chars=1500)
    assert len(text) <= 1500
    assert text.splitlines()[0].startswith("pkg/module_0.py (1.00) — symbols: Klass0.method_0, ")
    assert "lines 1-9, 11-19, 21-29" in text.splitlines()[0]
    assert text.splitlines()[-1].startswith("[...") and "more files" in text
    assert len(format_hits(hits[:1], max_chars=4000).splitlines()) == 1
    assert len(format_hits(hits, max_chars=50)) <= 50


def test_search_code_tool_and_default_cache_dir(shop, monkeypatch, tmp_path):
    repo, _ = shop
    monkeypatch.setenv("DROID_CACHE_DIR", str(tmp_path / "droid-cache"))
    assert default_cache_dir() == tmp_path / "droid-cache"
    tool = search_code_tool(ToolContext(repo=repo))
    result = tool.call({"query": "where do we add tax to invoices?", "top": 3})
    assert not result.is_error and result.text.startswith("shop/billing/invoice.py")
    assert any((tmp_path / "droid-cache").rglob("*.sqlite"))
    assert search_code_tool(ToolContext(repo=None)).call({"query": "x"}).is_error
