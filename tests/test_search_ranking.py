"""Ranking failure classes of `droid locate`, each on a repository built in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from skills.tools.search.query import clean_query
from skills.tools.search_code import CodeIndex, cli_main
from tests.test_search_code import make_repo, paths

ISSUE_TEMPLATE = """name: Bug report
description: Report a bug in the exporter
body:
  - type: textarea
    attributes:
      label: Describe the bug
      description: What went wrong when you exported the report?
  - type: textarea
    attributes:
      label: Steps to reproduce the export
  - type: textarea
    attributes:
      label: Expected export output
  - type: input
    attributes:
      label: Exporter version
"""


def _open(tmp_path: Path, files: dict[str, str]) -> CodeIndex:
    return CodeIndex.open(make_repo(tmp_path / "repo", files), cache_dir=tmp_path / "cache")


def test_an_issue_template_is_not_ranked_as_code(tmp_path):
    index = _open(tmp_path, {
        ".github/ISSUE_TEMPLATE/bug_report.yml": ISSUE_TEMPLATE,
        "exporter/csv_export.py": "def export_rows(rows, out):\n    for row in rows:\n        out.write(','.join(row))\n",
        "exporter/report.py": "def build_report(data):\n    return [list(map(str, d)) for d in data]\n",
    })
    issue = ("Exported report drops rows\n### Describe the bug\nWhen I export the report, rows are missing.\n"
             "### Steps to reproduce the export\nexport_rows(rows, out)\n### Expected export output\nall rows\n"
             "### Exporter version\n2.1\n")
    assert index.files()[".github/ISSUE_TEMPLATE/bug_report.yml"] == "template"
    ranked = paths(index.search(issue))
    assert ranked[0] == "exporter/csv_export.py"
    assert ranked.index(".github/ISSUE_TEMPLATE/bug_report.yml") > ranked.index("exporter/report.py")


def test_a_test_file_linked_in_the_issue_does_not_outrank_the_code(tmp_path):
    index = _open(tmp_path, {
        "pkg/slugify.py": "def slugify(text):\n    return text.lower().replace(' ', '-')\n",
        "tests/test_slugify.py": ("from pkg.slugify import slugify\n\n\ndef test_slugify_unicode():\n"
                                  "    assert slugify('Héllo Wörld') == 'hello-world'\n"
                                  "    assert slugify('ÄÖÜ') == 'aou'\n"),
    })
    issue = ("slugify keeps accents\nThe test in tests/test_slugify.py shows it: slugify('Héllo Wörld') gives "
             "'héllo-wörld'.\nSee https://github.com/o/r/blob/main/tests/test_slugify.py#L5\n")
    assert paths(index.search(issue))[:2] == ["pkg/slugify.py", "tests/test_slugify.py"]
    assert index.last_explain["pkg/slugify.py"]["path"] > 0     # the named test points at its subject


def test_docs_and_extensionless_text_files_rank_below_the_code(tmp_path):
    index = _open(tmp_path, {
        "NOTES": "Throttle: the throttle window limits requests per window. Throttle window throttle.\n" * 5,
        "docs/throttle.rst": "Throttle window\n===============\nThe throttle window limits requests.\n" * 5,
        "api/throttle.py": "def throttle_window(requests, window):\n    return requests[-window:]\n",
        "Makefile": "test:\n\tpytest\n",
    })
    kinds = index.files()
    assert kinds["NOTES"] == "doc" and kinds["Makefile"] == "code"
    assert paths(index.search("the throttle window limits too many requests"))[0] == "api/throttle.py"


def test_stems_and_identifier_parts_match(tmp_path):
    index = _open(tmp_path, {
        "geo/ops.py": "def intersect(a, b):\n    return a & b\n\n\ndef parseHeaderLine(line):\n    return line\n",
        "geo/colors.py": "def blend(a, b):\n    return (a + b) / 2\n",
    })
    assert paths(index.search("wrong intersection of two polygons"))[0] == "geo/ops.py"
    assert paths(index.search("intersecting"))[0] == "geo/ops.py"
    hit = index.search("the header lines are parsed wrongly")[0]
    assert hit.path == "geo/ops.py" and hit.symbols[0] == "parseHeaderLine"


def _frame_module() -> str:
    """A 3,000-line class that defines many common names (the way pandas-like frames do)."""
    names = ["get", "update", "copy", "items", "keys", "values", "pop", "clear", "merge", "apply", "map", "filter"]
    out = ["class Frame:\n"]
    for i, n in enumerate(names * 10):
        out.append(f"    def {n}{'' if i < len(names) else '_' + str(i)}(self, key=None, default=None):\n"
                   f"        \"\"\"{n} data by key; the cached value.\"\"\"\n"
                   + f"        data = self._data.{n}(key, default)  # value data key\n" * 25 + "        return data\n\n")
    return "".join(out)


def test_a_very_large_file_of_common_names_is_length_normalised(tmp_path):
    index = _open(tmp_path, {
        "core/frame.py": _frame_module(),
        "core/cache.py": "def get(cache, key):\n    return cache[key]\n\n\ndef update(cache, key, value):\n    cache[key] = value\n",
    })
    query = "`get` returns a stale cached value after `update`; `copy` keeps old data"
    assert paths(index.search(query, mode="mention"))[0] == "core/cache.py"     # both modes normalise
    assert index.last_explain["core/frame.py"]["size"] < 0.95
    assert paths(index.search(query, mode="fixsite"))[0] == "core/cache.py"
    assert index.last_explain["core/frame.py"]["size"] < 0.9 and index.last_explain["core/cache.py"]["size"] == 1.0


def test_fixsite_mode_prefers_the_definition_of_the_behaviour_over_its_mentions(tmp_path):
    client = "".join(f"def call_{i}(session):\n    # retry with backoff delay on retry\n"
                     f"    return session.send(retry=True, backoff=policy.backoff_delay_for_retry(), delay=1)\n\n"
                     for i in range(6))
    index = _open(tmp_path, {
        "net/client.py": "from net import policy\n\n\n" + client,
        "net/policy.py": ("def backoff_delay_for_retry(attempt=1):\n    \"\"\"Seconds to wait.\"\"\"\n"
                          "    return 0.1 * attempt\n"),
    })
    query = "The retry backoff delay is far too short"
    assert paths(index.search(query, mode="mention"))[0] == "net/client.py"     # talks about it most
    assert paths(index.search(query, mode="fixsite"))[0] == "net/policy.py"    # defines it
    assert index.last_explain["net/policy.py"]["defs"] == 1.0
    with pytest.raises(ValueError):
        index.search(query, mode="nonsense")


def test_cli_mode_flag(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo", {"a/retry.py": "def retry_backoff_delay():\n    return 1\n"})
    for mode in ("fixsite", "mention"):
        assert cli_main(["--repo", str(repo), "--query", "retry backoff delay", "--mode", mode,
                         "--cache-dir", str(tmp_path / "c")]) == 0
        assert capsys.readouterr().out.startswith("a/retry.py (")


def test_the_heading_of_an_environment_dump_goes_with_the_dump(tmp_path):
    issue = ("DataArray.quantile drops attrs\n```python\nda.quantile(0.9)\n```\n\n#### Output of ``xr.show_versions()``\n"
             "<details>\n# Paste the output here xr.show_versions() here\nINSTALLED VERSIONS\n------------------\n"
             "python: 3.6.8\nxarray: 0.12.3\npandas: 0.23.4\nnumpy: 1.16.1\n</details>\n")
    index = _open(tmp_path, {
        "xarray/util/print_versions.py": "def show_versions(file=None):\n    print('INSTALLED VERSIONS')\n",
        "xarray/core/dataarray.py": "class DataArray:\n    def quantile(self, q):\n        return q\n",
    })
    assert paths(index.search(issue)) == ["xarray/core/dataarray.py"]


TRACEBACK_ISSUE = """Crash on an empty title
```
Traceback (most recent call last):
  File "/home/me/app/run.py", line 3, in <module>
    save_report(report)
  File "/home/me/venv/lib/python3.11/site-packages/reports/api.py", line 7, in save_report
    return store.write_entry(report)
  File "/home/me/venv/lib/python3.11/site-packages/reports/store.py", line 12, in write_entry
    key = make_slug(report.title)
  File "/home/me/venv/lib/python3.11/site-packages/reports/slugs.py", line 4, in make_slug
    return title.split()[0].lower()
IndexError: list index out of range
```
An empty title should not crash.
"""


def test_the_innermost_frame_of_a_traceback_is_credited(tmp_path):
    index = _open(tmp_path, {
        "reports/api.py": "from reports import store\n\n\ndef save_report(report):\n    return store.write_entry(report)\n",
        "reports/store.py": ("from reports.slugs import make_slug\n\n\ndef write_entry(report):\n"
                             "    # the store writes one report entry\n    key = make_slug(report.title)\n"
                             "    return key\n"),
        "reports/slugs.py": ("def make_slug(title):\n    \"\"\"The slug of a title: its first word (an empty title has none).\"\"\"\n"
                             "    return title.split()[0].lower()\n"),
    })
    ranked = paths(index.search(TRACEBACK_ISSUE))
    assert index.last_explain["reports/slugs.py"]["inner"] == 1.0
    assert index.last_explain["reports/store.py"]["inner"] == 0.0
    assert ranked[0] == "reports/slugs.py"


def test_an_enumerated_list_of_modules_is_context_not_the_subject(tmp_path):
    index = _open(tmp_path, {
        "docgen/ext/autodoc/__init__.py": "def setup(app):\n    app.add_directive('automodule', None)\n",
        "docgen/ext/todo.py": "def setup(app):\n    app.add_directive('todo', None)\n",
        "docgen/ext/coverage.py": "def setup(app):\n    app.add_builder('coverage')\n",
        "docgen/util/annotations.py": ("def stringify_annotation(annotation):\n    \"\"\"The text of a type annotation.\"\"\"\n"
                                       "    return getattr(annotation, '__qualname__', repr(annotation))\n"),
    })
    issue = ("Type annotations with a nested class are not resolved\n"
             "The annotation text of a nested class shows its repr, not its qualified name.\n"
             "- Python version: 3.9\n- Extensions: ['docgen.ext.autodoc', 'docgen.ext.todo', 'docgen.ext.coverage']\n")
    ranked = paths(index.search(issue))
    assert ranked[0] == "docgen/util/annotations.py"
    assert index.last_explain.get("docgen/ext/todo.py", {}).get("module", 0.0) == 0.0


def test_only_lists_of_module_names_are_dropped_from_the_query():
    kept = 'df[["alpha", "beta", "gamma"]] and "x.y", "z.w"'
    assert clean_query(kept) == kept                         # data, and fewer than three names
    dropped = clean_query('INSTALLED_APPS = [\n  "django.contrib.auth",\n  "django.contrib.admin",\n  "myapp",\n]')
    assert "contrib" not in dropped and "INSTALLED_APPS" in dropped



BINDER_LINE = ("Verifiable example — the example pastes into a [Binder notebook]"
               "(https://mybinder.org/v2/gh/o/grid/main?urlpath=lab/tree/doc/examples/blank_template.ipynb), "
               "returning the result.")


def test_lines_copied_from_an_issue_template_do_not_name_the_subject(tmp_path):
    index = _open(tmp_path, {
        ".github/ISSUE_TEMPLATE/bugreport.yml": ("name: Bug report\nbody:\n  - type: checkboxes\n    attributes:\n"
                                                 "      label: MVCE confirmation\n      options:\n"
                                                 f"        - label: {BINDER_LINE}\n"),
        "doc/examples/blank_template.ipynb": '{"cells": [{"cell_type": "code", "source": ["import grid\\n", '
                                             '"ds = grid.load_sample()"]}]}\n',
        "grid/core.py": "def interp(ds, points):\n    \"\"\"Linear interpolation of the points.\"\"\"\n"
                        "    return ds.sel(points, method='nearest')\n",
        "grid/io.py": "def load_sample():\n    return open_grid('sample.nc')\n",
    })
    issue = ("Interpolation gives the nearest values\n### What happened?\nInterpolating points returns nearest values, "
             f"not linear ones.\n### MVCE confirmation\n- [X] {BINDER_LINE}\n")
    assert paths(index.search(issue))[0] == "grid/core.py"     # the template's link named the notebook first
    # the same link written by the reporter (not copied from the template) still names the notebook
    assert paths(index.search("The Binder notebook fails\nOpening doc/examples/blank_template.ipynb on Binder "
                              "fails."))[0] == "doc/examples/blank_template.ipynb"
