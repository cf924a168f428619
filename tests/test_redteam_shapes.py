"""Red team: credential shapes of logs, DSNs and CI that the first detectors read as code.

`password=letmeinplease` in a log line (a digit-free word after a tight `name=` was taken for a variable),
`db_password=…` in a lower-case env file, and a token used as a URL's user name (`https://TOKEN@github.com`,
how CI clones) leaked; the code those rules protect (`f(password=password)`, `token = next_token`) survives.
"""

from __future__ import annotations

import pytest

from integrations.redact import Redactor

redact = Redactor()


@pytest.mark.parametrize("text, secret", [
    ("login failed user=bob password=letmeinplease host=db", "letmeinplease"),
    ("2026-01-01 auth ok token=abcdefghijklmnopqrstuv user=bob", "abcdefghijklmnopqrstuv"),
    ("db_password=CorrectHorseBattery", "CorrectHorseBattery"),
    ("Server=db;Database=app;User Id=sa;Password=Sunflowerfields;", "Sunflowerfields"),
    ("git clone https://q8Zt3Vw1Canary9xLmN0pQr7aa@github.com/acme/pay.git", "q8Zt3Vw1Canary9xLmN0pQr7aa"),
    ("remote: https://oauth2:q8Zt3Vw1Canary9xLmN0pQr7aa@gitlab.example.com/a/b", "q8Zt3Vw1Canary9xLmN0pQr7aa"),
])
def test_log_dsn_and_ci_shapes_are_masked(text: str, secret: str):
    out = redact(text)
    assert secret not in out, out


@pytest.mark.parametrize("text", [
    "connect(user=user, password=password)",
    "token = next_token",
    "login(user=name, password=passwd)",
    "secret: SecretStr",
    "client = Client(api_key=apiKey)",
    "password=PASSWORD",
    "password=form.password.data",
    "token=request_token",
    "auth=HTTPBasicAuth",
    "password=getpass",
    "password=None",
    "https://github.com/acme/pay.git",
    "ssh://git@github.com/acme/pay.git",
    "https://deploy-bot@github.com/acme/pay",
    "mailto:someone@example.com",
])
def test_code_and_plain_addresses_survive(text: str):
    assert redact(text) == text
