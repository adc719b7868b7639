"""Control 7: the pre-commit hook is installed, CI runs a secret scanner, and history is clean."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_APP, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence

CI_FIX = ("add a step to CI that fails on a leaked key, e.g. in .github/workflows/ci.yml: "
          "`- run: jackstop scan . --history --format sarif -o jackstop.sarif` (or gitleaks, trufflehog)")


def check(inputs: Inputs) -> CheckResult:
    j = Judge(7)
    app = inputs.app
    if app is None:
        for name in ("pre-commit hook installed", "CI runs a secret scanner", "git history is clean"):
            j.skip(name, NEED_APP)
        return j.result()
    if not app.is_git:
        j.skip("pre-commit hook installed", "PATH is not a git repository")
    else:
        if app.hook_path and app.hook_scans:
            evidence = [Evidence("the pre-commit hook scans staged changes for keys", True, file=app.hook_path)]
        elif app.hook_path:
            evidence = [Evidence("a pre-commit hook exists but runs no secret scanner", False, file=app.hook_path)]
        else:
            evidence = [Evidence("no pre-commit hook: nothing stops a key at commit time", False,
                                 file=".git/hooks/pre-commit")]
        j.criterion("pre-commit hook installed", 2, bool(app.hook_path and app.hook_scans), evidence,
                    "jackstop hook install" + ("   (--force replaces the existing hook; or add `jackstop scan "
                                               "--staged` to it)" if app.hook_path else ""))
    scans = [h for h in app.ci_hits if h.kind == "scan"]
    j.criterion("CI runs a secret scanner", 2, bool(scans),
                [Evidence(f"runs `{h.text}`", True, file=h.file, line=h.line) for h in scans]
                or [Evidence("no secret scanner in " + (", ".join(app.ci_files) if app.ci_files else
                                                        "CI: no .github/workflows, .gitlab-ci.yml or "
                                                        ".pre-commit-config.yaml"), False)],
                CI_FIX)
    if app.history_keys is None:
        j.skip("git history is clean",
               "PATH is not a git repository" if not app.is_git else "history not scanned (--no-history)")
    else:
        hist = app.history_keys
        j.criterion("git history is clean", 1, not hist,
                    [Evidence(f"{k.provider} key {k.redacted} in commit {(k.commit or '')[:10]}", False,
                              file=k.path, line=k.line) for k in hist]
                    or [Evidence("jackstop scan --history found no provider key", True)],
                    "rotate each key found in history at its provider, then rerun `jackstop scan . --history`")
    return j.result()
