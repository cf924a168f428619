"""A labelled, seeded corpus for the redaction benchmark: true secrets of each family, and look-alikes.

    python bench/redact_corpus.py [--seed N] [--split dev|held_out]   # prints a few samples

`corpus(split)` returns `Sample`s. A true sample plants one fresh, random, format-valid secret of a
family in a context (a line of Python, JSON, YAML, TOML, .env, a log line, prose, a URL, a curl
command...); `parts` are the substrings that must not survive. A look-alike sample holds something
that must survive untouched (git SHAs, UUIDs, base64 test data, lockfile hashes, paths, code that
merely names a secret, placeholders, certificates); `imitates` names the family it could be mistaken
for, so each family's precision counts its own confusers.

The split is by seed *and* by template: the contexts and secret names of each family are shuffled
once and dealt into two halves, so the held-out split has values, contexts and names the dev split
(the one the detectors were tuned on) never showed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import string
import uuid
from dataclasses import dataclass, field

SPLIT_SEEDS = {"dev": 1001, "held_out": 2002}
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


@dataclass
class Sample:
    """One labelled text: `parts` must be masked (true secret) or `text` must survive (look-alike)."""

    family: str
    text: str
    ext: str = "txt"
    parts: list[str] = field(default_factory=list)
    imitates: str = ""

    @property
    def secret(self) -> bool:
        """True for a planted secret, False for a look-alike."""
        return bool(self.parts)


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


# --- secret generators: (rng) -> (token, parts that must not survive) --------------------------------

def _tokens() -> dict[str, callable]:
    return {
        "aws_key_id": lambda g: "AKIA" + _r(g, string.ascii_uppercase + "234567", 16),
        "github": lambda g: g.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _r(g, ALNUM, 36)
        if g.random() < 0.6 else "github_pat_11" + _r(g, ALNUM, 20) + "_" + _r(g, ALNUM, 59),
        "gitlab": lambda g: g.choice(["glpat-", "glpat-", "gldt-", "glrt-"]) + _r(g, ALNUM + "_-", 20),
        "slack": lambda g: g.choice(["xoxb-", "xoxp-"]) + _r(g, string.digits, 12) + "-" + _r(g, string.digits, 13)
        + "-" + _r(g, ALNUM, 24),
        "slack_webhook": lambda g: "https://hooks.slack.com/services/T" + _r(g, string.ascii_uppercase + string.digits, 10)
        + "/B" + _r(g, string.ascii_uppercase + string.digits, 10) + "/" + _r(g, ALNUM, 24),
        "stripe": lambda g: g.choice(["sk_live_", "rk_live_", "sk_test_"]) + _r(g, ALNUM, g.choice([24, 99])),
        "google": lambda g: "AIza" + _r(g, ALNUM + "_-", 35),
        "npm": lambda g: "npm_" + _r(g, ALNUM, 36),
        "pypi": lambda g: "pypi-AgEIcHlwaS5vcmc" + _r(g, ALNUM + "_-", g.randint(60, 150)),
        "sentry": lambda g: "sntryu_" + _r(g, "0123456789abcdef", 64) if g.random() < 0.5 else
        "sntrys_eyJpYXQiOjE3" + _r(g, B64, 80) + "_" + _r(g, B64, 43),
        "anthropic": lambda g: "sk-ant-api03-" + _r(g, ALNUM + "_-", 93) + "AA",
        "openai": lambda g: "sk-proj-" + _r(g, ALNUM + "_-", 58) + "T3BlbkFJ" + _r(g, ALNUM + "_-", 58),
        "jwt": lambda g: _jwt(g),
    }


def _jwt(g: random.Random) -> str:
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return (enc({"alg": g.choice(["HS256", "RS256"]), "typ": "JWT"}) + "." +
            enc({"sub": _r(g, string.ascii_lowercase, 8), "iat": g.randint(10**9, 2 * 10**9)}) + "." +
            _r(g, ALNUM + "_-", 43))


def _password(g: random.Random) -> str:
    kind = g.randrange(4)
    if kind == 0:
        return _r(g, ALNUM + "!@#%^*_-", g.randint(10, 24))
    if kind == 1:
        return g.choice(["Summer", "Winter", "Falcon", "Orange"]) + str(g.randint(1970, 2030)) + g.choice("!#.%")
    if kind == 2:
        return _r(g, "0123456789abcdef", g.choice([32, 48]))
    return _r(g, ALNUM, g.randint(16, 40))


# Contexts for a bare token: (template, file extension); {t} is the token, {n} a neutral name.
TOKEN_CONTEXTS = [
    ("export {N}={t}", "sh"), ('{n} = "{t}"', "py"), ('{{"{n}": "{t}", "region": "eu-west-1"}}', "json"),
    ("{n}: {t}", "yaml"), ("2026-03-01T10:00:00Z ERROR request failed using {t} (retrying)", "log"),
    ("I accidentally pasted {t} into the channel, please rotate it", "md"),
    ("curl -s https://api.example.com/v1/items?access={t}", "sh"), ('client = Client("{t}")', "py"),
    ('{n} = "{t}"', "toml"), ("    at connect (value={t})", "log"), ("`{t}`", "md"),
    ('headers["X-Custom"] = \'{t}\'', "py"),
]
NEUTRAL = ["value", "cfg", "setting", "arg", "conf_val", "item", "default", "opt"]

ASSIGN_NAMES = ["password", "DB_PASSWORD", "client_secret", "api_key", "apiKey", "SECRET_KEY", "auth_token",
                "passwd", "SMTP_PASS", "access_token", "secretAccessKey", "private_key_password", "GITHUB_TOKEN",
                "db_pwd", "refresh_token", "webhookSecret", "stripe_api_key", "PASSPHRASE"]
ASSIGN_CONTEXTS = [
    ('"{n}": "{v}"', "json"), ("{n}: {v}", "yaml"), ("{N}={v}", "env"), ('{n} = "{v}"', "toml"),
    ("{n}='{v}'", "py"), ('connect(host="db", {n}="{v}")', "py"), ("{n}: \"{v}\"", "yaml"),
    ("export {N}=\"{v}\"", "sh"), ("{n} = {v}", "ini"), ("mytool --{d} {v}", "sh"),
    ('config.set("{n}", "{v}")', "py"), ("{{\"config\": {{\"{n}\":\"{v}\"}}}}", "json"),
    ("  {n}: '{v}'", "yaml"), ("set {N}={v}", "bat"),
]
WEAK_NAMES = ["key", "session_key", "signature", "auth", "cookie", "hmac_salt", "encKey", "sig"]

AWS_SECRET_CONTEXTS = [
    ("aws_secret_access_key = {v}", "ini"), ('"SecretAccessKey": "{v}"', "json"), ("AWS_SECRET_ACCESS_KEY={v}", "env"),
    ("aws_secret_key: {v}", "yaml"), ("secret_access_key = \"{v}\"", "tf"), ("--aws-secret-key {v}", "sh"),
]
URL_TEMPLATES = [
    "postgres://{u}:{p}@db.internal:5432/app", "mysql://{u}:{p}@10.0.0.5/orders", "redis://{u}:{p}@cache:6379/0",
    "https://{u}:{p}@git.example.com/org/repo.git", "amqp://{u}:{p}@rabbit:5672/vhost",
    "mongodb+srv://{u}:{p}@cluster0.example.net/test", "ftp://{u}:{p}@files.example.com/in",
    "DATABASE_URL=postgresql://{u}:{p}@localhost/dev",
]
AZURE_TEMPLATES = [
    "DefaultEndpointsProtocol=https;AccountName={a};AccountKey={k};EndpointSuffix=core.windows.net",
    "Endpoint=sb://{a}.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={k}",
    'conn = "AccountName={a};AccountKey={k}"',
    "https://{a}.blob.core.windows.net/c/f.txt?sv=2022-11-02&se=2026-01-01&sr=b&sp=r&sig={s}",
]
PEM_KINDS = ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]


def _pem_lines(g: random.Random, width: int = 64, n: int | None = None) -> list[str]:
    n = n or g.randint(6, 25)
    return [_r(g, B64, width) for _ in range(n - 1)] + [_r(g, B64, g.randint(8, width - 4)) + "=="]


def _pem_samples(g: random.Random, ctx: list[int]) -> list[Sample]:
    out = []
    for i in range(40):
        kind, lines = g.choice(PEM_KINDS), _pem_lines(g, g.choice([64, 70]))
        block = "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])
        c = ctx[i % len(ctx)]
        text, ext = [
            (block, "pem"),
            (json.dumps({"type": "service_account", "private_key": block + "\n"}), "json"),
            ("tls:\n  key: |\n" + "\n".join("    " + x for x in block.splitlines()), "yaml"),
            ('KEY = """' + block + '"""', "py"),
            ("\n".join(f"{n:>6} {x}" for n, x in enumerate(block.splitlines()[:5], 40)), "txt"),
            ("+" + "\n+".join(block.splitlines()), "diff"),
        ][c]
        parts = [x for x in lines if len(x) >= 20] if c != 4 else [x for x in lines[:4] if len(x) >= 20]
        out.append(Sample("private_key", text, ext, parts))
        # One body line alone, as a window into the middle of a key shows it.
        line = g.choice(lines[:-1])
        text = [line, f"{g.randint(2, 900):>6} {line}", f'    "{line}\\n"', f"+{line}", f"  {line}", f"{line}\n{lines[-1]}"][c]
        out.append(Sample("private_key_body", text, "txt", [line]))
    return out


def _split(items: list, split: str) -> list:
    """The half of `items` (shuffled once, fixed seed) that belongs to `split`."""
    order = list(range(len(items)))
    random.Random(7).shuffle(order)
    half = order[0::2] if split == "dev" else order[1::2]
    return [items[i] for i in sorted(half)]


def true_samples(split: str, per_family: int = 40) -> list[Sample]:
    """True secrets of every family, in the contexts of `split`."""
    g = random.Random(SPLIT_SEEDS[split])
    out: list[Sample] = []
    contexts = _split(TOKEN_CONTEXTS, split)
    for family, make in _tokens().items():
        for i in range(per_family):
            tok = make(g)
            tpl, ext = contexts[i % len(contexts)]
            n = g.choice(NEUTRAL)
            out.append(Sample(family, tpl.format(t=tok, n=n, N=n.upper()), ext, [tok]))
    names, actx = _split(ASSIGN_NAMES, split), _split(ASSIGN_CONTEXTS, split)
    for i in range(per_family * 2):
        n, v = g.choice(names), _password(g)
        tpl, ext = actx[i % len(actx)]
        text = tpl.format(n=n, N=n.upper(), v=v, d=n.lower().replace("_", "-"))
        out.append(Sample("assignment", text, ext, [v]))
    weak, wctx = _split(WEAK_NAMES, split), _split(ASSIGN_CONTEXTS[:9], split)
    for i in range(per_family):
        n, v = g.choice(weak), _r(g, g.choice([ALNUM, B64, ALNUM + "_-"]), g.randint(24, 48))
        tpl, ext = wctx[i % len(wctx)]
        out.append(Sample("high_entropy", tpl.format(n=n, N=n.upper(), v=v, d=n), ext, [v]))
    for tpl, ext in _split(AWS_SECRET_CONTEXTS, split) * (per_family // 3):
        v = _r(g, B64, 40)
        out.append(Sample("aws_secret", tpl.format(v=v), ext, [v]))
    for i in range(per_family):
        u, p = g.choice(["app", "admin", "svc_pay", "deploy"]), _password(g).replace("@", "#").replace("/", "_")
        tpl = _split(URL_TEMPLATES, split)[i % 4]
        out.append(Sample("url_credentials", tpl.format(u=u, p=p), "txt", [p]))
    for i in range(per_family):
        k = base64.b64encode(g.randbytes(64)).decode()
        s = base64.b64encode(g.randbytes(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        tpl = _split(AZURE_TEMPLATES, split)[i % 2]
        out.append(Sample("azure", tpl.format(a=_r(g, string.ascii_lowercase, 8), k=k, s=s), "txt",
                          [s if "sig=" in tpl else k]))
    out += _pem_samples(g, _split(list(range(6)), split))
    return out


# --- look-alikes: (family it imitates, template) -------------------------------------------------------

def _lookalikes(g: random.Random) -> list[tuple[str, str, str, str]]:
    """(kind, imitated family, text, ext) tuples built from fresh random values."""
    sha = hashlib.sha1(g.randbytes(8)).hexdigest()
    sha256 = hashlib.sha256(g.randbytes(8)).hexdigest()
    uid = str(uuid.UUID(int=g.getrandbits(128), version=4))
    b64 = base64.b64encode(" ".join(g.choice(["hello", "world", "test", "data", "fixture"]) for _ in range(8)).encode()).decode()
    integ = base64.b64encode(hashlib.sha512(g.randbytes(8)).digest()).decode()
    word = g.choice(["user", "order", "cache", "payment", "session"])
    cert = "\n".join(["-----BEGIN CERTIFICATE-----", *_pem_lines(g, 64, 8), "-----END CERTIFICATE-----"])
    return [
        ("git_sha", "high_entropy", f"commit {sha}\nAuthor: Dev <dev@example.com>", "log"),
        ("git_sha", "high_entropy", f"git checkout {sha[:7]} && git cherry-pick {sha[:12]}", "sh"),
        ("git_sha", "private_key_body", sha, "txt"),
        ("git_sha", "high_entropy", f'rev = "{sha}"', "toml"),
        ("git_sha", "high_entropy", f'"sha": "{sha}", "key": "{sha}"', "json"),
        ("uuid", "high_entropy", f"request_id={uid} handled in 12ms", "log"),
        ("uuid", "high_entropy", f'"session_key": "{uid}"', "json"),
        ("uuid", "high_entropy", f"{word}_id: {uid}", "yaml"),
        ("base64_data", "private_key_body", f'payload = "{b64}"', "py"),
        ("base64_data", "private_key_body", f"The fixture decodes {b64} into plain words.", "md"),
        ("base64_data", "high_entropy", f'assert decode("{b64}") == expected', "py"),
        ("lockfile_hash", "high_entropy", f'"integrity": "sha512-{integ}"', "json"),
        ("lockfile_hash", "high_entropy", f"  integrity sha512-{integ}", "lock"),
        ("lockfile_hash", "high_entropy", f"requests==2.31.0 --hash=sha256:{sha256}", "txt"),
        ("lockfile_hash", "high_entropy", f'{{file = "pkg-1.0-py3-none-any.whl", hash = "sha256:{sha256}"}}', "lock"),
        ("lockfile_hash", "high_entropy", f"sha256:{sha256}  dist/app.tar.gz", "txt"),
        ("file_path", "assignment", f"/home/dev/projects/{word}/src/secrets/token_store.py", "txt"),
        ("file_path", "private_key_body", f"/usr/lib/python3.11/site-packages/{word}/keys/{sha[:8]}/loader.py", "txt"),
        ("identifier", "assignment", f"ANTHROPIC_API_KEY is read by get_api_key() in {word}.py", "md"),
        ("identifier", "assignment", "class TokenRefresher(SecretStr): pass", "py"),
        ("code", "assignment", "token = next_token()", "py"),
        ("code", "assignment", "password_field = forms.CharField(max_length=128)", "py"),
        ("code", "assignment", "secret = None", "py"),
        ("code", "assignment", "api_key: str", "py"),
        ("code", "assignment", 'api_key = os.environ["API_KEY"]', "py"),
        ("code", "assignment", "self.token = token", "py"),
        ("code", "assignment", "connect(password=password)", "py"),
        ("code", "assignment", "max_tokens: 4096", "yaml"),
        ("code", "assignment", 'headers = {"Authorization": f"Bearer {token}"}', "py"),
        ("code", "assignment", f"for key, value in {word}s.items():", "py"),
        ("placeholder", "assignment", "api_key: ${API_KEY}", "yaml"),
        ("placeholder", "assignment", 'password: "{{ .Values.db.password }}"', "yaml"),
        ("placeholder", "assignment", "export GITHUB_TOKEN=$GITHUB_TOKEN", "sh"),
        ("placeholder", "assignment", 'password = "<your-password>"', "toml"),
        ("certificate", "private_key_body", cert, "pem"),
        ("url", "url_credentials", f"https://git@github.com/acme/{word}.git and postgres://localhost:5432/{word}", "txt"),
        ("prose", "github", "GitHub tokens start with ghp_ and AWS key ids with AKIA.", "md"),
        ("prose", "assignment", "Rotate the key and the token after the incident; the password reset mail went out.", "md"),
    ]


def lookalike_samples(split: str, rounds: int = 12) -> list[Sample]:
    """Text that must survive the redactor unchanged."""
    g = random.Random(SPLIT_SEEDS[split] + 1)
    return [Sample(kind, text, ext, [], imitates) for _ in range(rounds)
            for kind, imitates, text, ext in _lookalikes(g)]


def corpus(split: str) -> list[Sample]:
    """Every true and look-alike sample of `split` ('dev' or 'held_out')."""
    return true_samples(split) + lookalike_samples(split)


def mixed_log(size: int, seed: int = 5, secret_every: int = 20_000) -> tuple[str, int]:
    """(about `size` characters of ordinary logs, code, SHAs and UUIDs with a few secrets, how many)."""
    g = random.Random(seed)
    secrets = [s for s in true_samples("dev", per_family=4) if "\n" not in s.text]
    words = ("request handled user session cache miss retry connection pool worker started finished payment "
             "invoice order queue timeout key token value status ok error failed for the with from").split()
    out, total, planted = [], 0, 0
    while total < size:
        k = g.random()
        w = " ".join(g.choice(words) for _ in range(g.randint(4, 12)))
        if len(out) % secret_every == secret_every - 1:
            line, planted = g.choice(secrets).text, planted + 1
        elif k < 0.45:
            line = (f"2026-01-0{g.randint(1, 9)}T12:{g.randint(10, 59)}:{g.randint(10, 59)}.{g.randint(100, 999)}Z "
                    f"{g.choice(['INFO', 'WARN', 'DEBUG'])} [{g.choice(['api', 'worker', 'db'])}] {w} "
                    f"request_id={uuid.UUID(int=g.getrandbits(128))} duration_ms={g.randint(1, 999)}")
        elif k < 0.55:
            line = f"{hashlib.sha1(g.randbytes(8)).hexdigest()} {w[:40]}"
        elif k < 0.7:
            line = (f'  File "/usr/lib/python3.11/site-packages/app/{g.choice(words)}.py", line {g.randint(1, 900)}, '
                    f"in {g.choice(words)}_handler")
        elif k < 0.85:
            a, b = g.choice(words), g.choice(words)
            line = g.choice([f"    {a}_{b} = self.{b}({a}, key={b}_key, token=self.{a}_token)",
                             f"    if not {a}_{b}:", f"        return self._{a}.get({b}, None)",
                             f"    for {a} in {b}s:", f"def {a}_{b}(self, {a}: str, {b}: int = 0) -> bool:",
                             f"        raise ValueError(f\"bad {a}: {{{b}!r}}\")",
                             f"    {a}_{b} = [x for x in self.{b}s if x.{a}]"])
        else:
            line = json.dumps({"level": "warn", "msg": w, "sha": hashlib.sha256(g.randbytes(8)).hexdigest(),
                               "user": g.randint(1, 10**6)})
        out.append(line)
        total += len(line) + 1
    return "\n".join(out), planted


def main() -> None:
    """Print a few samples of a split."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=sorted(SPLIT_SEEDS))
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    samples = corpus(args.split)
    for s in random.Random(0).sample(samples, args.n):
        print(json.dumps({"family": s.family, "secret": s.secret, "text": s.text[:200]}))


if __name__ == "__main__":
    main()
