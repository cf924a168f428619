"""Which skill handles a task."""

from __future__ import annotations

from skills.skill import Skill


def all_skills() -> dict[str, Skill]:
    """Every skill droid has, by name."""
    from skills import ask
    return {ask.SKILL.name: ask.SKILL}


def choose(task: str, skills: dict[str, Skill] | None = None) -> Skill:
    """The skill for a task text. Only `ask` exists so far; code changes and RCA plug in here."""
    skills = skills or all_skills()
    return skills["ask"]
