"""Stack frames mapped to repository paths (servers, Windows, modules, monorepos, Maven), test paths,
and code structure in other languages (JavaScript and Java definitions, a Java event end to end)."""

from __future__ import annotations

import json
import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.sentry_event import parse_event
from integrations.sentry_model import Frame
from skills.rca.evidence import analyse, extract_definitions
from skills.rca.paths import RepoFiles, is_test_path, normalise_path
from skills.rca.sample import commit as _commit
from skills.rca.sample import git as _git

REPO_FILES = RepoFiles([
    "services/api/shop/pricing.py", "services/api/shop/__init__.py", "services/api/shop/cart.py",
    "services/worker/shop/utils.py", "services/api/shop/utils.py",
    "web/src/components/Cart.tsx", "web/src/utils/money.js", "frontend/static/js/app.js",
    "src/sentry/static/sentry/scripts/views.js",
    "app/src/main/java/io/sentry/example/Application.java",
    "app/src/main/kotlin/com/acme/Billing.kt", "requests/api.py", "tests/test_cart.py",
])


def _fr(**kw) -> Frame:
    return Frame(**kw)


@pytest.mark.parametrize("frame,expect", [
    (_fr(abs_path="/srv/app/shop/pricing.py"), "services/api/shop/pricing.py"),
    (_fr(abs_path="C:\\deploy\\shop\\cart.py"), "services/api/shop/cart.py"),
    (_fr(module="shop.pricing"), "services/api/shop/pricing.py"),
    (_fr(module="shop", filename="shop/__init__.py"), "services/api/shop/__init__.py"),
    (_fr(abs_path="webpack:///./src/components/Cart.tsx"), "web/src/components/Cart.tsx"),
    (_fr(abs_path="webpack://web-app/./src/components/Cart.tsx"), "web/src/components/Cart.tsx"),
    (_fr(abs_path="app:///src/utils/money.js"), "web/src/utils/money.js"),
    (_fr(abs_path="https://cdn.example.com/static/js/app.js?v=3"), "frontend/static/js/app.js"),
    (_fr(abs_path="https://sentry.io/_static/sentry/scripts/views.js",
         filename="../../sentry/scripts/views.js"), "src/sentry/static/sentry/scripts/views.js"),
    (_fr(module="io.sentry.example.Application", filename="Application.java",
         abs_path="Application.java"), "app/src/main/java/io/sentry/example/Application.java"),
    (_fr(module="io.sentry.example.Application$Inner", filename="Application.java"),
     "app/src/main/java/io/sentry/example/Application.java"),
    (_fr(module="com.acme.Billing", filename="Billing.kt"),
     "app/src/main/kotlin/com/acme/Billing.kt"),
    (_fr(abs_path="/srv/api/shop/utils.py"), "services/api/shop/utils.py"),
    (_fr(abs_path="/home/app/project/tests/test_cart.py"), "tests/test_cart.py"),
    (_fr(abs_path="/usr/lib/python3.11/site-packages/requests/api.py"), None),
    (_fr(abs_path="/app/.venv/lib/python3.12/site-packages/requests/api.py"), None),
    (_fr(abs_path="webpack:///./node_modules/react-dom/index.js"), None),
    (_fr(abs_path="/somewhere/utils.py"), None),  # only a shared basename: ambiguous
    (_fr(abs_path="<anonymous>"), None),
    (_fr(abs_path="/srv/app/unknown.py"), None),
])
def test_frame_to_repo_path(frame, expect):
    m = REPO_FILES.match(frame)
    assert (m.path if m else None) == expect


def test_path_mapping_prefers_the_longest_suffix():
    m = REPO_FILES.match(_fr(abs_path="/opt/x/shop/utils.py"))
    assert m is not None and m.ambiguous and m.matched_segments == 2
    m = REPO_FILES.match(_fr(abs_path="/srv/services/worker/shop/utils.py"))
    assert m.path == "services/worker/shop/utils.py" and not m.ambiguous


@pytest.mark.parametrize("raw,expect", [
    ("webpack:///./src/a.ts", "src/a.ts"), ("app:///dist/a.js", "dist/a.js"),
    ("https://cdn.example.com/static/a.js?v=3#x", "static/a.js"), ("C:\\app\\a.py", "app/a.py"),
    ("../../src/a.js", "src/a.js"), ("/srv/app/a.py", "srv/app/a.py"), ("<string>", None),
    ("file:///home/u/p/a.py", "home/u/p/a.py"), ("", None), (None, None),
])
def test_normalise_path(raw, expect):
    assert normalise_path(raw) == expect


def test_test_paths():
    assert is_test_path("tests/test_cart.py") and is_test_path("tqdm/tests/tests_tqdm.py")
    assert is_test_path("web/src/Cart.test.tsx") and is_test_path("app/src/test/java/X.java")
    assert not is_test_path("shop/pricing.py") and not is_test_path("src/contest.py")


# ---------------------------------------------------------------------------------------------
# code structure in other languages


def test_definitions_javascript_and_java():
    js = textwrap.dedent("""\
        export function total(items) {
          return items.reduce((a, b) => a + b, 0);
        }

        const money = (x) => {
          return "$" + x;
        };

        class Cart {
          constructor(items) {
            this.items = items;
          }
          async checkout(code) {
            if (code) {
              return total(this.items);
            }
          }
        }
        """)
    defs = {d.qualname: (d.start, d.end) for d in extract_definitions("a.js", js)}
    assert defs["total"] == (1, 3) and defs["money"] == (5, 7)
    assert defs["Cart.constructor"] == (10, 12) and defs["Cart.checkout"] == (13, 17)
    assert "if" not in {q.split(".")[-1] for q in defs}
    java = textwrap.dedent("""\
        package io.sentry.example;

        public class Sidebar {
            public static String fetch(String user) throws ApiException {
                if (user == null) {
                    throw new ApiException("no user");
                }
                return ApiRequest.perform(user);
            }
        }
        """)
    defs = {d.qualname: (d.start, d.end) for d in extract_definitions("Sidebar.java", java)}
    assert defs["Sidebar"] == (3, 10) and defs["Sidebar.fetch"] == (4, 9)
    py = "class A:\n    def f(self):\n        def g():\n            pass\n        return g\n"
    defs = {d.qualname: (d.start, d.end) for d in extract_definitions("a.py", py)}
    assert defs == {"A": (1, 5), "A.f": (2, 5), "A.f.g": (3, 4)}


def test_java_event_maps_package_paths_in_a_maven_layout(tmp_path):
    """Sentry's Java sample event against a Maven repository: module + filename → the source
    under src/main/java, the innermost in-app method first, framework frames left out."""
    fixture = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "sentry" / \
        "events" / "java.json"
    if os.environ.get("DROID_SHARED"):
        fixture = Path(os.environ["DROID_SHARED"]) / "fixtures" / "sentry" / "events" / "java.json"
    if not fixture.exists():
        pytest.skip(f"../shared fixture not found at {fixture} (set DROID_SHARED)")
    repo = tmp_path / "java"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    base = "app/src/main/java/io/sentry/example/"
    pad = "\n" * 97
    _commit(repo, "Ann", "2017-07-01", "Example app", {
        base + "Application.java": "package io.sentry.example;\n\npublic class Application {"
        + pad + "    public String home() {\n        // render\n        return Sidebar.fetch()"
        ";\n    }\n}\n",
        base + "Sidebar.java": "package io.sentry.example;\n\npublic class Sidebar {\n"
        "    public static String fetch() {\n        return ApiRequest.perform(\"/sidebar\");\n"
        "    }\n}\n",
        base + "ApiRequest.java": "package io.sentry.example;\n\npublic class ApiRequest {\n"
        "    public static String perform(String path) {\n        String token = null;\n"
        "        if (path != null) {\n            // check the token\n"
        "            throw new ApiException(\"Authentication failed, token expired!\");\n"
        "        }\n        return token;\n    }\n}\n"})
    event = parse_event(json.loads(fixture.read_text("utf-8")))
    ev = analyse(event, repo, datetime(2017, 8, 4, tzinfo=UTC))
    app = [(f.file, f.scope, f.line) for f in ev.frames if f.file]
    assert app == [(base + "ApiRequest.java", "ApiRequest.perform", 8),
                   (base + "Sidebar.java", "Sidebar.fetch", 5),
                   (base + "Application.java", "Application.home", 102)]
    top = ev.suspect_locations[0]
    assert (top.file, top.function, top.line) == (base + "ApiRequest.java", "perform", 8)
    assert any("library/unmapped frames left out" in n for n in ev.notes)
