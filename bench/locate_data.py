"""bench/locate.py's data: instance files, the held-out split, tickets, and checking a base commit out."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

from integrations.redact import Redactor
from integrations.tickets import Ticket, TicketRef

_DIFF_RE = re.compile(r"^diff --git a/(\S+) b/", re.M)


def find_git_dir(repos_dir: Path, repo: str) -> Path | None:
    """The git directory of `owner/name` under `repos_dir` (several layouts, bare or not), or None."""
    owner, name = repo.split("/", 1)
    for cand in (f"{owner}+{name}/repo", f"{owner}+{name}", f"{owner}__{name}", f"{owner}/{name}", name,
                 f"{owner}+{name}.git", f"{name}.git"):
        path = repos_dir / cand
        if path.is_dir() and subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"],
                                            capture_output=True).returncode == 0:
            return path
    return None


def load_instances(paths: list[Path]) -> list[dict]:
    """Instances from JSON-lines (`gold_files`) or JSON arrays (`golden_patch`), first occurrence kept."""
    out: dict[str, dict] = {}
    for path in paths:
        text = path.read_text()
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
        for row in rows:
            if row["instance_id"] in out:
                continue
            gold = row.get("gold_files") or list(dict.fromkeys(_DIFF_RE.findall(row.get("golden_patch", ""))))
            out[row["instance_id"]] = {"instance_id": row["instance_id"], "repo": row["repo"],
                                       "base_commit": row["base_commit"],
                                       "problem_statement": row["problem_statement"], "gold_files": gold}
    return list(out.values())


def split_of(instance_id: str, dev_ids: set[str]) -> str:
    """`dev`, `heldout` or `tune` (see bench/locate.py's docstring); fixed before tuning, never changed."""
    if instance_id in dev_ids:
        return "dev"
    return "heldout" if hashlib.sha256(instance_id.encode()).digest()[0] % 2 else "tune"


def ticket_of(inst: dict, redact: Redactor) -> Ticket:
    """The SWE-bench instance as the GitHub-issue ticket droid would hold: first line = title, rest = description,
    kept redacted (a run's context is stored through `Redactor.data`)."""
    title, _, description = inst["problem_statement"].strip().partition("\n")
    number = int(inst["instance_id"].rsplit("-", 1)[-1]) if inst["instance_id"].rsplit("-", 1)[-1].isdigit() else 0
    ref = TicketRef("github", f"{inst['repo']}#{number}", repo=inst["repo"], number=number)
    ticket = Ticket(ref, title=title.strip(), description=description.strip(),
                    url=f"https://github.com/{inst['repo']}/issues/{number}")
    return Ticket.from_dict(redact.data(ticket.to_dict()))


def git(*args: str, cwd: Path | None = None) -> str:
    """stdout of a git command (raises on failure)."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def missing_blob_paths(worktree: Path, commit: str) -> list[str]:
    """Paths of `commit` whose blobs the object store lacks (a size-capped snapshot leaves its largest files out)."""
    entries = [e.split("\t", 1) for e in git("ls-tree", "-r", "-z", commit, cwd=worktree).split("\0") if e]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    proc = subprocess.run(["git", "cat-file", "--batch-check"], cwd=worktree, capture_output=True, text=True,
                          input="".join(f"{sha}\n" for sha, _ in blobs))
    missing = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" missing")}
    return [path for sha, path in blobs if sha in missing]


def checkout(worktree: Path, commit: str) -> list[str]:
    """Check `commit` out, leaving out (sparse checkout) only the paths whose blobs are absent; returns those."""
    missing = missing_blob_paths(worktree, commit)
    patterns = worktree / ".git" / "info" / "sparse-checkout"
    if missing or patterns.exists():
        patterns.parent.mkdir(parents=True, exist_ok=True)
        patterns.write_text("/*\n" + "".join("!/" + re.sub(r"([*?\[\]\\!#])", r"\\\1", p) + "\n" for p in missing))
        git("config", "core.sparseCheckout", "true", cwd=worktree)
    git("checkout", "-q", "-f", "--detach", commit, cwd=worktree)
    return missing


def commit_time(worktree: Path, commit: str) -> int:
    """Committer time of `commit` (0 when unknown): instances are visited in this order, so HEAD moves little."""
    try:
        return int(git("log", "-1", "--format=%ct", commit, cwd=worktree).strip() or 0)
    except subprocess.CalledProcessError:
        return 0
