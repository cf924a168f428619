"""A small sample service with a realistic history, and a real Sentry event from running it.

Used by `droid demo` (droid's main job with no accounts) and by tests. The history has several
authors and tagged releases; one commit ("Accept discount codes in any case") introduces a
regression that crashes checkout without a discount code. The event is captured by the real
`sentry-sdk` from the real exception, in a subprocess running the release's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
GUILTY_SUBJECT = "Accept discount codes in any case"

PRICING = '''\
"""Prices and discounts."""

DISCOUNTS = {"SPRING": 10, "VIP": 25}


def discount_for(code):
    """Percent off for a discount code (0 when there is none)."""
    if not code:
        return 0
    return DISCOUNTS.get(code, 0)


def apply_discount(amount, code):
    pct = discount_for(code)
    return round(amount * (100 - pct) / 100, 2)


def format_price(amount):
    return "$" + str(amount)
'''

CART = '''\
from shop.pricing import apply_discount, format_price


class Cart:
    def __init__(self, items, code=None):
        self.items = items
        self.code = code

    def subtotal(self):
        return sum(price * qty for price, qty in self.items)

    def total(self):
        return apply_discount(self.subtotal(), self.code)

    def receipt(self):
        return "Total: " + format_price(self.total())


def checkout(items, code=None):
    cart = Cart(items, code)
    return cart.receipt()
'''


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    """Run git in `repo` with a clean configuration."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}).stdout.strip()


def commit(repo: Path, who: str, day: str, message: str, files: dict[str, str]) -> str:
    """Write files and commit them as `who` on `day` (YYYY-MM-DD, or N for N days ago); returns the sha."""
    if day.isdigit():
        day = (datetime.now(UTC) - timedelta(days=int(day))).strftime("%Y-%m-%d")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    stamp = f"{day}T10:00:00+00:00"
    email = f"{who.lower()}@shop.example"
    git(repo, "commit", "-q", "-m", message, env={"GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": email,
                                                  "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": email,
                                                  "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return git(repo, "rev-parse", "HEAD")


DAYS_AGO = {"alice": "90", "bob": "60", "carol": "30", "dave": "4", "erin": "2"}


def build_repo(repo: Path, days: dict[str, str] | None = None) -> dict[str, str]:
    """Create the sample repository; returns {author: sha}. `days`: author -> YYYY-MM-DD or days ago."""
    days = {**DAYS_AGO, **(days or {})}
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    shas = {"alice": commit(repo, "Alice", days["alice"], "Shop: carts and prices", {
        "shop/__init__.py": "", "shop/pricing.py": PRICING, "shop/cart.py": CART,
        "tests/test_cart.py": "from shop.cart import checkout\n\n\ndef test_checkout():\n"
                              "    assert checkout([(10.0, 2)], 'VIP') == 'Total: $15.0'\n",
        "README.md": "# shop\n"})}
    git(repo, "tag", "v1.0.0")
    shas["bob"] = commit(repo, "Bob", days["bob"], "Inventory and item counts", {
        "shop/inventory.py": "def in_stock(sku):\n    return sku != 'gone'\n",
        "shop/cart.py": CART + "\n\ndef count(items):\n    return sum(q for _, q in items)\n"})
    cents = PRICING.replace('return "$" + str(amount)', 'return "$%.2f" % amount')
    shas["carol"] = commit(repo, "Carol", days["carol"], "Show cents in prices", {"shop/pricing.py": cents})
    guilty = cents.replace('    """Percent off for a discount code (0 when there is none)."""\n',
                           '    """Percent off for a discount code (0 when there is none)."""\n'
                           '    code = code.strip().upper()\n')
    shas["dave"] = commit(repo, "Dave", days["dave"], GUILTY_SUBJECT, {"shop/pricing.py": guilty})
    shas["erin"] = commit(repo, "Erin", days["erin"], "Document the inventory", {
        "shop/inventory.py": '"""Stock."""\n\n\ndef in_stock(sku):\n    return sku != \'gone\'\n',
        "README.md": "# shop\n\nA small shop.\n"})
    git(repo, "tag", "v1.2.0")
    return shas


CAPTURE = """
import json, sys
sys.path.insert(0, {work!r})
import sentry_sdk
from sentry_sdk.transport import Transport

events = []

class Keep(Transport):
    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event:
            events.append(event)

client = sentry_sdk.Client(dsn="https://public@sentry.invalid/1", transport=Keep, default_integrations=False,
                           release={release!r}, environment="production", in_app_include=["shop"])
from shop.cart import checkout
try:
    checkout([(10.0, 2)], None)
except Exception as exc:
    with sentry_sdk.isolation_scope() as scope:
        scope.set_client(client)
        scope.set_tag("tenant", "acme")
        scope.capture_exception(exc)
client.flush(timeout=5)
print(json.dumps(events[0], default=str))
"""


def capture_event(repo: Path, ref: str, release: str, work: Path) -> dict:
    """Run the shop at `ref` (checkout without a discount code) under the real sentry-sdk; return its event."""
    if not work.exists():
        git(repo, "worktree", "add", "-q", "--detach", str(work), ref)
    script = work.parent / f"capture-{work.name}.py"
    script.write_text(textwrap.dedent(CAPTURE.format(work=str(work), release=release)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)
