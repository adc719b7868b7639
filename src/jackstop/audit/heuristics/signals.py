"""Shared vocabulary of the heuristics: what credential stores, exfil endpoints and payload strings
look like. Python (ast) and JavaScript (pattern) analysers both grade on these."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jackstop.audit.findings import Severity

# Credential stores by family. A legitimate SDK touches its own family (botocore: aws; google-auth:
# gcloud; paramiko: ssh); a stealer sweeps several at once.
CREDENTIAL_FAMILIES: dict[str, re.Pattern[str]] = {
    "ssh": re.compile(r"(?:^|[/\\~])\.ssh(?:$|[/\\])|\bid_(?:rsa|ed25519|ecdsa|dsa)\b"),
    "aws": re.compile(r"(?:^|[/\\~])\.aws(?:$|[/\\])"),
    "gcloud": re.compile(r"(?:^|[/\\])gcloud(?:$|[/\\])|application_default_credentials\.json"),
    "azure": re.compile(r"(?:^|[/\\~])\.azure(?:$|[/\\])"),
    "kubernetes": re.compile(r"(?:^|[/\\~])\.kube(?:$|[/\\])|serviceaccount/token"),
    "docker": re.compile(r"\.docker[/\\]config\.json"),
    "git": re.compile(r"\.git-credentials"),
    "package-registry": re.compile(r"(?:^|[/\\~])\.(?:npmrc|pypirc)(?:$|\s)"),
    "netrc": re.compile(r"(?:^|[/\\~])[._]netrc$"),
    "shell-history": re.compile(r"\.(?:bash|zsh|sh|python|mysql|psql)_history\b"),
    "wallets": re.compile(r"(?:^|[/\\.])(?:[Ee]lectrum|[Ee]xodus|[Mm]eta[Mm]ask|[Bb]itcoin|[Ee]thereum|[Ss]olana)(?:$|[/\\])|wallet\.dat"),
    "dotenv": re.compile(r"(?:^|[/\\])\.env$"),
    "browser": re.compile(r"Login Data$|Local State$"),
    # AI tools' own key stores: Continue, Codeium, Copilot, Cursor/Windsurf state, Claude/Codex/Gemini CLIs
    "ai-tools": re.compile(
        r"\.continue[/\\]config\.(?:json|ya?ml)$|(?:^|[/\\~])\.codeium(?:$|[/\\])|github-copilot[/\\](?:hosts|apps)\.json|"
        r"[Cc]ursor[/\\]User[/\\]globalStorage|state\.vscdb$|\.claude[/\\]\.credentials\.json|\.codex[/\\]auth\.json|"
        r"\.gemini[/\\]oauth_creds\.json|\.config[/\\]openai(?:$|[/\\])"
    ),
}

# Env vars that hold AI-provider keys and other secrets worth stealing.
AI_KEY_ENV = re.compile(
    r"^(?:OPENAI|ANTHROPIC|CLAUDE|GEMINI|GOOGLE|GROQ|MISTRAL|COHERE|DEEPSEEK|XAI|OPENROUTER|TOGETHER|"
    r"PERPLEXITY|PPLX|HF|HUGGINGFACE|HUGGING_FACE|REPLICATE|FIREWORKS|AZURE_OPENAI|VOYAGE|AI21|CEREBRAS|"
    r"NVIDIA|LITELLM)(?:_HUB)?_(?:API_KEY|API_TOKEN|TOKEN|KEY|MASTER_KEY)$"
)
SECRET_ENV = re.compile(
    r"^(?:AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|GITHUB_TOKEN|GH_TOKEN|NPM_TOKEN|PYPI_TOKEN|"
    r"AZURE_CLIENT_SECRET|GOOGLE_APPLICATION_CREDENTIALS|SLACK_TOKEN|DISCORD_TOKEN)$"
)

# The patterns below are lower-case and are matched against lower-cased text: re.IGNORECASE
# makes the engine an order of magnitude slower on large files.
# Places stolen data goes that no SDK has a reason to call: paste bins, webhooks, tunnels.
EXFIL_HOSTS = re.compile(
    r"(?:discord(?:app)?\.com/api/webhooks|api\.telegram\.org/bot|pastebin\.com|hastebin\.|"
    r"webhook\.site|pipedream\.net|requestbin|ngrok(?:-free)?\.(?:io|app)|burpcollaborator\.net|"
    r"\.oast\.(?:fun|live|site|online|me|pro)|interact\.sh|transfer\.sh|\bfile\.io\b|\bix\.io\b|"
    # a public IP literal (cloud metadata, loopback and private ranges are not exfil endpoints)
    r"https?://(?!169\.254\.|127\.|10\.|192\.168\.|0\.0\.0\.0|172\.(?:1[6-9]|2\d|3[01])\.)"
    r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?/)"
)
CLOUD_METADATA = re.compile(r"169\.254\.169\.254|metadata\.google\.internal")

# Miner binaries, pool protocols and pools, and Monero wallet addresses (95 base58 characters).
MINER = re.compile(
    r"\bxmrig\b|stratum\+(?:tcp|ssl)://|supportxmr|nanopool\.org|minexmr|moneroocean|"
    r"(?<![0-9a-z])[48][1-9a-z]{94}(?![0-9a-z])"
)
SHELL_DOWNLOAD_EXEC = re.compile(
    r"\b(?:curl|wget)\b[^\n]*?(?:\|\s*(?:ba|z|da)?sh\b|\|\s*python|&&\s*(?:chmod|nohup|\./|sh\s|bash\s|python))"
    r"|(?:invoke-webrequest|iwr|invoke-expression|iex)\b[^\n]*(?:iex|invoke-expression|start-process)"
)
PERSISTENCE = re.compile(
    r"\.config/systemd/user|systemctl\s+--user\s+(?:enable|start)|\bcrontab\s+-|/etc/cron|/var/spool/cron|"
    r"launchagents|currentversion\\+run\b|\.bashrc|\.zshrc|\.bash_profile"
)
# Flags that make AI coding CLIs act without confirmation, abused by the Nx 's1ngularity' payload.
AI_CLI_ABUSE = re.compile(r"--dangerously-skip-permissions|--yolo\b|--trust-all-tools")
ENCODED_EXEC_STRING = re.compile(
    r"exec\s*\(\s*(?:__import__\(\s*['\"](?:base64|zlib|codecs|marshal)['\"]\s*\)|base64|zlib|codecs|marshal|bytes\.fromhex)"
)


def families_in(text: str) -> set[str]:
    return {name for name, rx in CREDENTIAL_FAMILIES.items() if rx.search(text)}


@dataclass(frozen=True)
class Hit:
    rule: str
    severity: Severity
    line: int
    message: str
