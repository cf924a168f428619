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


SOLR_AND_CODE = {
    "conf/solr/solrconfig.xml": SOLR_CONFIG,
    "search/facets.py": ("def edition_count_facet(results):\n    \"\"\"The edition count facet of search results.\"\"\"\n"
                         "    return sum(r['edition_count'] for r in results)\n"),
}


def test_a_data_file_full_of_the_query_words_ranks_below_the_code(tmp_path):
    index = _open(tmp_path, SOLR_AND_CODE)
    query = "edition count facet field is wrong in search results"
    assert is_data_file("conf/solr/solrconfig.xml") and not is_data_file("search/facets.py")
    ranked = paths(index.search(query))
    assert ranked[:2] == ["search/facets.py", "conf/solr/solrconfig.xml"]
    assert index.last_explain["conf/solr/solrconfig.xml"]["lex"] == 1.0    # it does hold the words most


def test_a_data_file_the_query_names_keeps_its_rank(tmp_path):
    index = _open(tmp_path, SOLR_AND_CODE)
    query = "The edition count facet field in conf/solr/solrconfig.xml is not stored"
    assert paths(index.search(query))[0] == "conf/solr/solrconfig.xml"


MARC_TESTS = "".join(f"def test_languages_{i}():\n    record = read_marc_test_file('multi_language_{i}.mrc')\n"
                     f"    assert parse_languages(record) == ['eng', 'fre']  # language codes of the MARC record\n\n"
                     for i in range(3))


def test_test_files_mentioned_as_context_do_not_lift_the_tests(tmp_path):
    index = _open(tmp_path, {
        "catalog/marc/tests/test_languages.py": MARC_TESTS,
        "catalog/marc/parse.py": ("def parse_languages(record):\n    \"\"\"Language codes of a MARC record (field 008).\"\"\"\n"
                                  "    return [record.field('008')[35:38]]\n\n\n"
                                  "def read_language_codes(record):\n    \"\"\"Several language codes (field 041) of a MARC record.\"\"\"\n"
                                  "    return record.field('041').split()\n\n\n"
                                  "def imported_languages(record):\n    \"\"\"All language codes a MARC record imports.\"\"\"\n"
                                  "    return parse_languages(record) + read_language_codes(record)\n"),
    })
    context = ("Multiple language codes in a MARC record\nOnly one language is imported from a MARC record "
               "with several language codes. The MARC test files multi_language_1 and 2 show it; run the test suite.")
    assert paths(index.search(context))[0] == "catalog/marc/parse.py"
    assert index.last_explain["catalog/marc/tests/test_languages.py"]["penalty"] == 0.6
    asking = context + " Please add tests for records with several languages."
    index.search(asking)
    assert index.last_explain["catalog/marc/tests/test_languages.py"]["penalty"] == 0.9


def test_a_file_named_after_words_of_the_query_is_credited(tmp_path):
    files = {f"facts/{d}/{n}.py": f"def collect_{n}(module):\n    # on linux, aix, sunos\n    return module.run('{n}')\n"
             for d in ("system", "network", "virtual") for n in ("date", "dns", "env", "user", "service", "sysctl")}
    index = _open(tmp_path, files | {
        "facts/hardware/linux.py": ("def get_cpu_facts(self):\n    \"\"\"Processor facts: processor count, cores, vcpus.\"\"\"\n"
                                    "    return {'processor_count': 1, 'processor_cores': 2, 'processor_vcpus': 2}\n"),
        "facts/hardware/aix.py": ("def get_cpu_facts(self):\n    out = self.run('lsdev -Cc processor')\n"
                                  "    return {'processor_count': len(out)}\n"),
    })
    query = ("Incorrect processor facts reported on AIX\nOn AIX `get_cpu_facts` sets the processor count to the number "
             "of cores, the processor cores to the threads per core, and vcpus are not set.")
    ranked = paths(index.search(query))
    # `aix` is common in the code's text (a weak query term there) but names one file: that file is credited
    assert index.last_explain["facts/hardware/aix.py"]["pathtok"] > 0.5
    assert index.last_explain["facts/hardware/linux.py"]["pathtok"] == 0.0
    assert set(ranked[:2]) == {"facts/hardware/aix.py", "facts/hardware/linux.py"}


def test_a_test_files_affix_is_not_file_name_evidence(tmp_path):
    index = _open(tmp_path, {
        "lib/modules/hostname.py": "class Strategy:\n    def set_hostname(self, name):\n        self.name = name\n",
        "lib/modules/test_hostname.py": "def test_strategy():\n    assert Strategy().set_hostname('h') is None\n",
        "lib/modules/service.py": "def restart(name):\n    return name\n",
    })
    index.search("Hostname test fails\nThe unit test of the hostname strategy fails in check mode.")
    explain = index.last_explain
    # `test` is a query word, but `test_hostname.py` is named after `hostname` like its subject
    assert explain["lib/modules/test_hostname.py"]["pathtok"] == explain["lib/modules/hostname.py"]["pathtok"] > 0
    assert explain["lib/modules/test_hostname.py"]["penalty"] == 0.6
