"""Canary secrets: fake, format-valid credentials of each kind a real leak carries.

Every canary test plants these where real secrets live and asserts that none of `SECRET_PARTS`
reaches any sink. The values are made up (and say so where the format allows); they grant nothing.
"""

from __future__ import annotations

_PEM_BODY = [
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2CanaryPemBodyLine1xQ9kLmN0pRs",
    "Tu5vWx7yZ9aB1cD3eF5gH7iJ9kL1mN3oP5qR7sT9uV1wX3yZ5aB7cD9eF1gH3iJ5k",
    "L7mN9oP1qR3sT5uV7wX9yZ1aB3cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX5yZ7aB9",
    "cD1eF3gH5iJ7kL9mN1oP3qR5sT7uV9wX1yZ3aB5cD7eF9gH1iJ3kCanaryPemEnd==",
]
PRIVATE_KEY = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *_PEM_BODY, "-----END RSA PRIVATE KEY-----"])

# kind -> (the text to plant, the substrings that must never leave droid)
CANARIES: dict[str, tuple[str, list[str]]] = {
    "aws_key_id": ("AKIAZ7CANARY4XQ2M5PL", ["AKIAZ7CANARY4XQ2M5PL"]),
    "aws_secret": ("aws_secret_access_key = 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",
                   ["q8Zt3Vw1CanaryS3cretAcc3ssK3y/9xLmN0pQr7"]),
    "github_pat": ("ghp_CanaryGitHubToken0123456789abcdefABCD", ["ghp_CanaryGitHubToken0123456789abcdefABCD"]),
    "github_fine": ("github_pat_11CANARY0A0123456789ab_CanaryFineGrainedToken0123456789abcdefghijklmnopqrstuvw",
                    ["CanaryFineGrainedToken0123456789abcdefghijklmnopqrstuvw"]),
    "gitlab": ("glpat-Canary0GitLab0Tok3nX", ["glpat-Canary0GitLab0Tok3nX"]),
    "slack_bot": ("xoxb-123456789012-1234567890123-CanarySlackBotTokenAbc", ["CanarySlackBotTokenAbc"]),
    "slack_webhook": ("https://hooks.slack.com/services/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56",
                      ["CanaryWebhookSecret0123456"]),
    "stripe": ("sk_live_51CanaryStripeKey0123456789abcdefGHIJ", ["sk_live_51CanaryStripeKey0123456789abcdefGHIJ"]),
    "google": ("AIzaSyCanaryGoogleApiKey0123456789abcde", ["AIzaSyCanaryGoogleApiKey0123456789abcde"]),
    "npm": ("npm_CanaryNpmToken0123456789abcdefghijkl", ["npm_CanaryNpmToken0123456789abcdefghijkl"]),
    "pypi": ("pypi-AgEIcHlwaS5vcmcCJGNhbmFyeS1weXBpLXRva2VuLTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5",
             ["AgEIcHlwaS5vcmcCJGNhbmFyeS1weXBpLXRva2VuLTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5"]),
    "sentry": ("sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_CanarySentryOrgToken0123456789abcdef",
               ["CanarySentryOrgToken0123456789abcdef"]),
    "anthropic": ("sk-ant-api03-CanaryAnthropicKey0123456789abcdefghijklmnop-AA",
                  ["CanaryAnthropicKey0123456789abcdefghijklmnop"]),
    "openai": ("sk-proj-CanaryOpenAIKey0123456789abcdefT3BlbkFJ0123456789abcdef",
               ["CanaryOpenAIKey0123456789abcdef"]),
    "jwt": ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYW5hcnkiLCJuYW1lIjoiQ2FuYXJ5In0."
            "Q2FuYXJ5Snd0U2lnbmF0dXJlMDEyMzQ1Njc4OWFiY2RlZg",
            ["Q2FuYXJ5Snd0U2lnbmF0dXJlMDEyMzQ1Njc4OWFiY2RlZg"]),
    "private_key": (PRIVATE_KEY, _PEM_BODY),
    "url_credentials": ("postgres://droid_app:CanaryDbPassw0rd@db.internal:5432/pay", ["CanaryDbPassw0rd"]),
    "json_password": ('{"user": "svc", "password": "CanaryJsonPassw0rd!"}', ["CanaryJsonPassw0rd!"]),
    "yaml_api_key": ("api_key: CanaryYamlApiKey7f3e9b", ["CanaryYamlApiKey7f3e9b"]),
    "env_secret": ("PAYMENTS_CLIENT_SECRET=CanaryEnvS3cretV4lue", ["CanaryEnvS3cretV4lue"]),
    "azure_storage": ("DefaultEndpointsProtocol=https;AccountName=canary;AccountKey="
                      "Q2FuYXJ5QXp1cmVTdG9yYWdlS2V5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0g=;"
                      "EndpointSuffix=core.windows.net",
                      ["Q2FuYXJ5QXp1cmVTdG9yYWdlS2V5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0g="]),
    # Prefixed tokens of more services (gitleaks' default rules).
    "shopify": ("shpat_c0ffee00" + "ca7a1e55" * 3, ["c0ffee00" + "ca7a1e55" * 3]),
    "vault": ("hvs.CAESICanaryVaultTokenAbCdEf0123456789xyz", ["CAESICanaryVaultTokenAbCdEf0123456789xyz"]),
    "sendgrid": ("SG.CanarySendGrid0Key012.CanarySendGridSecretPart0123456789abcdefABCDEF",
                 ["CanarySendGridSecretPart0123456789abcdefABCDEF"]),
    "digitalocean": ("dop_v1_" + "c0a1a2a3" * 8, ["c0a1a2a3" * 8]),
    "linear": ("lin_api_CanaryLinearApiKey0123456789abcdefghijklmn", ["CanaryLinearApiKey0123456789abcdefghijklmn"]),
    "huggingface": ("hf_CanaryHuggingFaceTokenAbcdefghijklmn", ["CanaryHuggingFaceTokenAbcdefghijklmn"]),
    "cli_password": ("mysql -h db -u app -pCanaryMysqlPassw0rd pay", ["CanaryMysqlPassw0rd"]),
    "slack_client": ("xoxc-1234567890-1234567890-1234567890-CanarySlackClientTok", ["CanarySlackClientTok"]),
}

SECRET_PARTS: list[str] = sorted({part for _, parts in CANARIES.values() for part in parts})


def planted(sep: str = "\n") -> str:
    """Every canary's text, joined: one blob to plant in an input."""
    return sep.join(text for text, _ in CANARIES.values())


def leaks(text: str | bytes) -> list[str]:
    """The canary parts found in `text` (empty when nothing leaked)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [part for part in SECRET_PARTS if part in text]
