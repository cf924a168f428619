"""Secrets passed to well-known commands by short flags: `mysql -pSECRET`, `sshpass -p SECRET`,
`docker login -p SECRET`, `redis-cli -a SECRET`, `curl -u user:SECRET`.

A short flag means different things to different commands (`docker run -p 8080:80` is a port,
`ls -a` lists everything), so each flag counts only after the command that reads a password from it,
in the same shell command (up to `|`, `;`, `&`).
"""

from __future__ import annotations

import re

from integrations.secret_names import secret_value

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


def command_spans(line: str) -> list[tuple[int, int, str]]:
    """(start, end, family) of each password handed to a known command by a short flag in `line`."""
    spans = []
    for regex in _COMMANDS:
        for m in regex.finditer(line):
            group = "pw" if m.groupdict().get("pw") else "value"
            span = secret_value(m.group(group), True, env_style=True)
            if span:
                spans.append((m.start(group) + span[0], m.start(group) + span[1], "command"))
    return spans
