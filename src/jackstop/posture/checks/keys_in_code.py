"""Control 1: no provider key in the tree or its history; .env and config files hold jsk_ keys;
the gateway's provider secrets are in a manager or the encrypted keystore, not env:."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_APP, NEED_GATEWAY, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

MANAGED = ("local", "vault", "aws-sm", "azure-kv")


def _key_fix(provider: str) -> str:
    return (f"rotate the {provider} key at the provider (treat it as leaked), keep the new one only in the gateway "
            f"(`jackstop secrets set {provider}`), and give the app a virtual key: "
            f"`jackstop keys create APP-ENV --provider {provider} --budget 10/day`")


def check(inputs: Inputs) -> CheckResult:
    j = Judge(1)
    app = inputs.app
    if app is None:
        j.skip("no provider key in the working tree", NEED_APP)
        j.skip(".env and config files hold jsk_ keys", NEED_APP)
        j.skip("no provider key in git history", NEED_APP)
    else:
        code = [k for k in app.tree_keys if not k.in_config]
        j.criterion(
            "no provider key in the working tree", 3, not code,
            [Evidence(f"{k.provider} key {k.redacted} in code" + (f" ({k.name})" if k.name else ""), False,
                      file=k.path, line=k.line, key=k.name) for k in code]
            or [Evidence("no provider key in the working tree (jackstop scan)", True)],
            [_key_fix(k.provider) for k in code])
        config = [k for k in app.tree_keys if k.in_config]
        good = [k for k in app.jackstop_keys if k.in_config]
        evidence = [Evidence(f"{k.name or 'a setting'} holds a provider key ({k.provider}, {k.redacted}); "
                             f"it should hold a jsk_ virtual key", False, file=k.path, line=k.line, key=k.name)
                    for k in config]
        evidence += [Evidence(f"{k.name or 'a setting'} holds a jackstop virtual key ({k.redacted})", True,
                              file=k.path, line=k.line, key=k.name) for k in good if k.rule == "jackstop-virtual-key"]
        if not evidence:
            evidence = [Evidence("no .env or config file holds a provider key", True)]
        j.criterion(".env and config files hold jsk_ keys, not provider keys", 2, not config, evidence,
                    [f"in {k.path}, set {k.name or 'the setting'} to a virtual key from "
                     f"`jackstop keys create APP-ENV --provider {k.provider} --budget 10/day` and point the SDK's "
                     f"base_url at the gateway; then rotate the {k.provider} key" for k in config])
        if app.history_keys is None:
            j.skip("no provider key in git history",
                   "PATH is not a git repository" if not app.is_git else "history not scanned (--no-history)")
        else:
            hist = app.history_keys
            j.criterion(
                "no provider key in git history", 2, not hist,
                [Evidence(f"{k.provider} key {k.redacted} committed in {(k.commit or '')[:10]} ({(k.date or '')[:10]})",
                          False, file=k.path, line=k.line) for k in hist]
                or [Evidence("no provider key in any commit (jackstop scan --history)", True)],
                "rotate every key found in history at its provider now (deleting the file does not remove it "
                "from history or forks), then rerun `jackstop scan . --history`")
    gw = inputs.gateway
    if gw is None:
        j.skip("gateway provider secrets are in a manager or the keystore", NEED_GATEWAY)
    else:
        bad = [p for p in gw.providers if p.scheme not in MANAGED]
        evidence = [Evidence(f"provider {p.name} reads its secret from {p.secret_ref}"
                             + (" (an environment variable)" if p.scheme == "env" else ""),
                             p.scheme in MANAGED, key=p.name, setting="providers.secret")
                    for p in gw.providers] or [Evidence("no provider registered", True)]
        j.criterion("gateway provider secrets are in a manager or the keystore", 3, not bad, evidence,
                    [f"`jackstop secrets set {p.name}` (reads the key from standard input), then "
                     f"`jackstop providers rotate {p.name} --secret local:{p.name}` (or a manager: "
                     f"--secret vault:secret/data/{p.name}#api_key)" for p in bad])
    return j.result()
