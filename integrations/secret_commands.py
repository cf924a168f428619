"""Secrets passed to well-known commands by short flags: `mysql -pSECRET`, `sshpass -p SECRET`,
`docker login -p SECRET`, `redis-cli -a SECRET`, `curl -u user:SECRET`, `aws configure set
aws_secret_access_key SECRET`, `gh secret set NAME --body SECRET`, `htpasswd -b FILE USER SECRET`.

A short flag means different things to different commands (`docker run -p 8080:80` is a port,
`ls -a` lists everything), so each flag counts only after the command that reads a password from it,
in the same shell command (up to `|`, `;`, `&`).
"""

from __future__ import annotations

import re

from integrations.secret_names import secret_value, strength

_SHELL_CMD = r"[^|;&\n]*?"
# (regex on the line; group "value" is what the flag carries; group "pw" (optional) the secret part)
_COMMANDS = [
    re.compile(r"(?<![\w-])(?:mysql\w*|mariadb\w*)\b" + _SHELL_CMD + r"(?<=\s)-p(?P<value>[^\s\"'-][^\s]*|\"[^\"\n]+\"|'[^'\n]+')"),
    re.compile(r"(?<![\w-])(?:sshpass|(?:docker|podman|nerdctl|buildah|skopeo|oras|helm(?:\s+registry)?)\s+login)\b"
               + _SHELL_CMD + r"(?<=\s)(?:-p|--password)[ \t=]+(?P<value>\"[^\"\n]+\"|'[^'\n]+'|\S+)"),
    re.compile(r"(?<![\w-])(?:redis-cli|keydb-cli)\b" + _SHELL_CMD + r"(?<=\s)(?:-a|--pass)[ \t=]+(?P<value>\"[^\"\n]+\"|'[^'\n]+'|\S+)"),
    re.compile(r"(?<![\w-])(?:curl|wget|http|https|xh)\b" + _SHELL_CMD
               + r"(?<=\s)(?:-u|--user|--proxy-user|--http-user)[ \t=]*(?P<value>[\"']?[^\s:\"']{1,100}:(?P<pw>[^\s\"']{1,200})[\"']?)"),
]

# `aws configure set aws_secret_access_key X`, `npm config set //registry/:_authToken X`: a setting set by
# name; secret only when the name is a secret name.
_CONFIG_SET = re.compile(r"(?<![\w-])(?:aws[ \t]+configure|(?:npm|yarn|pnpm|pip|poetry|conda)[ \t]+config)[ \t]+set"
                         r"(?:[ \t]+--?[\w-]+)*[ \t]+(?P<name>[^\s=]+)[ \t]+(?P<value>\"[^\"\n]+\"|'[^'\n]+'|\S+)")
# Commands whose argument is a secret whatever it is called: `gh secret set N --body X`, `htpasswd -b F U X`.
_SECRET_ARG = [
    re.compile(r"(?<![\w-])gh[ \t]+secret[ \t]+set\b" + _SHELL_CMD + r"(?<=\s)(?:--body|-b)[ \t=]+"
               r"(?P<value>\"[^\"\n]+\"|'[^'\n]+'|\S+)"),
    re.compile(r"(?<![\w-])htpasswd(?=[^|;&\n]*?\s-\w*b)(?:[ \t]+-\w+)*[ \t]+\S+[ \t]+\S+[ \t]+"
               r"(?P<value>\"[^\"\n]+\"|'[^'\n]+'|\S+)"),
]


def command_spans(line: str) -> list[tuple[int, int, str]]:
    """(start, end, family) of each password handed to a known command by a short flag in `line`."""
    spans = []
    for regex in _COMMANDS:
        for m in regex.finditer(line):
            group = "pw" if m.groupdict().get("pw") else "value"
            span = secret_value(m.group(group), True, env_style=True)
            if span:
                spans.append((m.start(group) + span[0], m.start(group) + span[1], "command"))
    for m in _CONFIG_SET.finditer(line):
        if strength(m.group("name")) == "strong" and (span := secret_value(m.group("value"), True, env_style=True)):
            spans.append((m.start("value") + span[0], m.start("value") + span[1], "command"))
    for regex in _SECRET_ARG:
        for m in regex.finditer(line):
            if span := secret_value(m.group("value"), True, env_style=True):
                spans.append((m.start("value") + span[0], m.start("value") + span[1], "command"))
    return spans
