"""Which skill handles a task."""

from __future__ import annotations

import re

from skills.skill import Skill

QUESTION = re.compile(r"^\s*(where|what|which|who|why|how|when|is|are|does|do|can|could|explain|show|find|list)\b",
                      re.IGNORECASE)
CHANGE = re.compile(r"\b(fix|add|implement|change|make|refactor|update|remove|delete|rename|bump|upgrade|"
                    r"migrate|write|create|support|handle|replace|improve|draft a fix)\b", re.IGNORECASE)
TICKET = re.compile(r"\b[A-Z][A-Z0-9]+-\d+\b")
GITHUB_ISSUE = re.compile(r"(?<![\w./-])[\w.-]+/[\w.-]+#\d+\b|/issues/\d+\b")


def all_skills() -> dict[str, Skill]:
    """Every skill droid has, by name."""
    from skills import ask, code_change
    from skills.rca import skill as rca
    return {s.name: s for s in (ask.SKILL, code_change.SKILL, rca.SKILL)}


def choose(task: str, skills: dict[str, Skill] | None = None) -> Skill:
    """Questions go to `ask`; imperative tasks and ticket keys to `code_change`. Ambiguous → ask (read-only)."""
    skills = skills or all_skills()
    if QUESTION.match(task) or task.rstrip().endswith("?"):
        return skills["ask"]
    if CHANGE.search(task) or TICKET.search(task) or GITHUB_ISSUE.search(task):
        return skills["code_change"]
    return skills["ask"]
