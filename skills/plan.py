"""Plans: the versioned record a human approves, and how one version compares with another."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STEP_STATES = ("pending", "active", "done", "failed", "skipped")


@dataclass
class Step:
    """One step of a plan."""

    title: str
    detail: str = ""
    status: str = "pending"


@dataclass
class Budget:
    """What the plan will spend at most."""

    steps: int
    tokens: int
    cost_usd: float | None = None


@dataclass
class Plan:
    """Goal, steps, expected footprint, risks and budget; one version of a run's plan."""

    goal: str
    steps: list[Step]
    touches: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    budget: Budget = field(default_factory=lambda: Budget(steps=30, tokens=400_000))
    source: str = "template"          # "model" or "template"
    note: str = ""
    repo: str = ""                    # the repository, named when the channel has several (with why)
    repo_why: str = ""
    actions: list[str] = field(default_factory=lambda: ["read"])   # kinds of action: read, edit, run, push
    version: int = 0
    ticket: dict | None = None        # {"key", "title", "url", "system"}: the ticket the plan comes from

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Inverse of to_dict, tolerant of missing keys."""
        data = dict(data)
        data["steps"] = [Step(**s) if isinstance(s, dict) else Step(str(s)) for s in data.get("steps", [])]
        data["budget"] = Budget(**data["budget"]) if isinstance(data.get("budget"), dict) else Budget(30, 400_000)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def current_step(self) -> int | None:
        """Index of the first step not yet done, or None when all are."""
        for i, step in enumerate(self.steps):
            if step.status in ("pending", "active"):
                return i
        return None


RISK_ORDER = {"read": 0, "run": 1, "edit": 2, "push": 3}


def widening(approved: Plan, proposed: Plan) -> list[str]:
    """Ways `proposed` goes beyond what was approved (empty when it stays inside)."""
    reasons = []
    new_touches = [t for t in proposed.touches if not covered(t, approved.touches)]
    if new_touches:
        reasons.append("touches new files or areas: " + ", ".join(new_touches[:10]))
    riskier = [a for a in proposed.actions
               if RISK_ORDER.get(a, 9) > max((RISK_ORDER.get(b, 9) for b in approved.actions), default=0)]
    if riskier:
        reasons.append("riskier actions: " + ", ".join(riskier))
    if proposed.budget.steps > approved.budget.steps or proposed.budget.tokens > approved.budget.tokens:
        reasons.append("a larger budget")
    return reasons


def covered(path: str, approved: list[str]) -> bool:
    """True when `path` is one of the approved files or inside an approved area ("dir/", "*")."""
    path = path.strip("/")
    for area in approved:
        area = area.strip("/")
        if area in ("*", "") or path == area or path.startswith(area.rstrip("*").rstrip("/") + "/"):
            return True
    return False
