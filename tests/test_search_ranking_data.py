"""Ranking classes of `droid locate` found on SWE-bench Pro's Python repositories (dev set), each on a
repository built in the test."""

from __future__ import annotations

from pathlib import Path

from skills.tools.search.files import is_data_file
from skills.tools.search_code import CodeIndex
from tests.test_search_code import make_repo, paths


def _open(tmp_path: Path, files: dict[str, str]) -> CodeIndex:
    return CodeIndex.open(make_repo(tmp_path / "repo", files), cache_dir=tmp_path / "cache")


SOLR_CONFIG = "".join(f'<field name="edition_{i}" type="text" indexed="true" stored="true"/>\n'
                      f"<!-- edition count facet for search results, solr edition field {i} -->\n" for i in range(30))


def test_a_data_file_full_of_the_query_words_ranks_below_the_code(tmp_path):
    index = _open(tmp_path, {
        "conf/solr/solrconfig.xml": SOLR_CONFIG,
        "search/facets.py": ("def edition_count_facet(results):\n    \"\"\"The edition count facet of search results.\"\"\"\n"
                             "    return sum(r['edition_count'] for r in results)\n"),
    })
    query = "edition count facet field is wrong in search results"
    assert is_data_file("conf/solr/solrconfig.xml") and not is_data_file("search/facets.py")
    ranked = paths(index.search(query))
    assert ranked[:2] == ["search/facets.py", "conf/solr/solrconfig.xml"]
    assert index.last_explain["conf/solr/solrconfig.xml"]["lex"] == 1.0    # it does hold the words most


def test_a_data_file_the_query_names_keeps_its_rank(tmp_path):
    index = _open(tmp_path, {
        "conf/solr/solrconfig.xml": SOLR_CONFIG,
        "search/facets.py": ("def edition_count_facet(results):\n    \"\"\"The edition count facet of search results.\"\"\"\n"
                             "    return sum(r['edition_count'] for r in results)\n"),
    })
    query = "The edition count facet field in conf/solr/solrconfig.xml is not stored"
    assert paths(index.search(query))[0] == "conf/solr/solrconfig.xml"
