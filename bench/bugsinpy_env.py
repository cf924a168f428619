"""Python 3.11 venvs for BugsInPy bugs, cached per requirement set (see build_rca_bugsinpy.py).

Pins are installed as wheels first (`--no-deps`: requirements.txt is a full `pip freeze`).
A pin without a 3.11 wheel is installed from its sdist, or, for heavy compiled packages and
sdists that do not build, relaxed to the newest version. pytest is replaced by pytest>=7.4,<8.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from bugsinpy_meta import WINDOWS_ONLY, requirement_name

RECIPE = 2  # bump when the install steps change: cached venvs are then rebuilt
PYTEST = "pytest>=7.4,<8"
SENTRY = "sentry-sdk==2.75.0"
HEAVY = {"lxml", "cffi", "pillow", "numpy", "cryptography", "psutil", "regex", "typed-ast",
         "multidict", "yarl", "aiohttp", "pyyaml", "ruamel-yaml-clib", "zope-interface",
         "bcrypt", "brotli", "brotlipy", "httptools", "uvloop", "zstandard",
         "pycryptodome", "pandas", "scipy", "greenlet", "gevent", "grpcio", "protobuf",
         "twisted", "frozenlist", "ujson", "pynacl", "h5py", "psycopg2", "psycopg2-binary",
         "mysqlclient", "pyzmq", "coverage", "simplejson", "wrapt", "pycurl", "cython",
         "ruamel-yaml", "pyrsistent", "kiwisolver", "matplotlib", "msgpack", "lz4", "pymongo",
         "cchardet", "gssapi", "pykerberos", "sqlalchemy", "aiofiles",
         "scikit-learn", "scikit-image", "pyarrow", "numba", "llvmlite", "shapely",
         "netifaces", "pycrypto", "m2crypto", "pyodbc", "python-snappy", "tensorflow"}
# replaced (pytest) or not installable/meaningful here
DROP = {"pytest", "pkg-resources", "unittest", "pip", "setuptools", "wheel",
        "distribute"} | WINDOWS_ONLY
# pytest 7's companions: the old pins break it (py 1.8 on 3.11), so they take the newest
FORCE_RELAX = {"py", "pluggy"}
_MISSING = re.compile(r"(?:No matching distribution found for|Could not find a version that "
                      r"satisfies the requirement)\s+([^\s;]+)")


def pip(venv: Path, args: list[str], timeout: float = 600) -> tuple[int, str]:
    """Run the venv's pip; (rc, combined output). A timeout is rc 124."""
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input",
           "--disable-pip-version-check", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timeout"
    return out.returncode, out.stdout[-3000:] + out.stderr[-3000:]


def _wheels(venv: Path, todo: list[str], log) -> list[str]:
    """Install pins as wheels (no deps); return the pins that have no 3.11 wheel."""
    nowheel: list[str] = []
    while todo:
        rc, out = pip(venv, ["--no-deps", "--only-binary", ":all:", *todo])
        if rc == 0:
            break
        m = _MISSING.search(out)
        bad = [r for r in todo if m and requirement_name(r) == requirement_name(m.group(1))]
        if not bad:
            log(f"  pins as a batch failed ({out.strip().splitlines()[-1:]}); one by one")
            return nowheel + [r for r in todo if pip(
                venv, ["--no-deps", "--only-binary", ":all:", r])[0] != 0]
        nowheel += bad
        todo = [r for r in todo if r not in bad]
    return nowheel


def _moved(venv: Path, pins: list[str], nowheel: list[str]) -> list[str]:
    """Pins whose installed version differs at the end (moved by what came later):
    `name==old -> new`."""
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"],
                         capture_output=True, text=True).stdout
    have = {requirement_name(ln): ln.split("==", 1)[1] for ln in out.splitlines() if "==" in ln}
    moved = []
    for p in pins:
        if p in nowheel or "==" not in p:
            continue
        name, ver = requirement_name(p), p.split("==", 1)[1].strip()
        if have.get(name) not in (None, ver):
            moved.append(f"{p} -> {have[name]}")
    return moved


def plan(requirements: list[str], setup_pip: list[str], own: set[str]) -> tuple[list[str],
                                                                              list[str]]:
    """(pins to install, unpinned extras from setup.sh), without the project itself."""
    pins = []
    for req in requirements:
        if req.startswith("-") or "git+" in req or "://" in req:
            continue
        name = requirement_name(req)
        if name and name not in DROP and name not in own:
            pins.append(req.split(";")[0].strip())
    extras = []
    for line in setup_pip:
        for tok in line.split()[2:]:
            if tok.startswith("-") or tok.startswith(".") or "/" in tok:
                continue
            name = requirement_name(tok)
            if name and name not in DROP and name not in own:
                extras.append(tok)
    return pins, extras


def venv_key(project: str, pins: list[str], extras: list[str], python: str) -> str:
    """Cache key of a venv: the project and a hash of what goes into it."""
    blob = json.dumps([RECIPE, pins, extras, python, PYTEST, SENTRY, sorted(FORCE_RELAX),
                       sorted(HEAVY), sorted(DROP)], sort_keys=True)
    return f"{project}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def build_venv(cache: Path, project: str, pins: list[str], extras: list[str], python: str,
               log) -> tuple[Path, dict]:
    """A venv with the pins, extras, pytest 7 and sentry-sdk; cached under cache/venvs."""
    venv = cache / "venvs" / venv_key(project, pins, extras, python)
    marker = venv / "rca-install.json"
    if marker.exists():
        return venv, json.loads(marker.read_text())
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    info = {"relaxed": [], "dropped": [], "sdist_installed": [], "pins_overridden": []}
    todo = [p for p in pins if requirement_name(p) not in FORCE_RELAX]
    nowheel = [p for p in pins if requirement_name(p) in FORCE_RELAX]
    for i in range(0, len(todo), 25):  # a batch stops at its first pin without a wheel
        nowheel += _wheels(venv, todo[i:i + 25], log)
    held = venv / "rca-held-pins.txt"  # a relaxed package must not move the installed pins
    held.write_text("\n".join(p for p in pins if p not in nowheel) + "\n")
    for req in nowheel:
        name = requirement_name(req)
        if name not in HEAVY | FORCE_RELAX and pip(venv, ["--no-deps", req], timeout=240)[0] == 0:
            info["sdist_installed"].append(req)
            continue
        bare = re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", req).group(0)
        if any(pip(venv, [*how, bare])[0] == 0 for how in (
                ["-c", str(held), "--only-binary", ":all:"], ["-c", str(held)],
                ["--no-deps", "--only-binary", ":all:"], ["--no-deps"])):
            info["relaxed"].append(req)
        else:
            info["dropped"].append(req)
    for req in extras:
        if pip(venv, ["-c", str(held), req])[0] != 0:
            info["dropped"].append(req)
    rc, out = pip(venv, [PYTEST, SENTRY])
    if rc != 0:
        raise RuntimeError(f"pytest/sentry-sdk install failed: {out[-500:]}")
    info["pins_overridden"] = _moved(venv, pins, nowheel)
    info["seconds"] = round(time.monotonic() - t0, 1)
    marker.write_text(json.dumps(info, indent=1))
    log(f"  venv {venv.name} built in {info['seconds']} s: {info}")
    return venv, info


def versions(venv: Path) -> dict[str, str]:
    """Versions of python, pytest and sentry-sdk in a venv."""
    code = ("import sys, pytest, sentry_sdk; print(sys.version.split()[0]); "
            "print(pytest.__version__); print(sentry_sdk.VERSION); print(sys.base_prefix)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return {"python": out[0], "pytest": out[1], "sentry_sdk": out[2], "base_prefix": out[3]}
