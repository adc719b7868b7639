"""Control 10: the scorecard runs in CI and the team's docs say how AI keys are handled.
The teaching itself is `jackstop posture --explain` and the HTML report."""

from __future__ import annotations

from jackstop.posture.checks.base import NEED_APP, Inputs, Judge
from jackstop.posture.model import CheckResult, Evidence


def check(inputs: Inputs) -> CheckResult:
    j = Judge(10)
    app = inputs.app
    if app is None:
        j.skip("CI runs jackstop posture", NEED_APP)
        j.skip("developer docs say how AI keys are handled", NEED_APP)
        return j.result()
    runs = [h for h in app.ci_hits if h.kind == "posture"]
    j.criterion("CI runs jackstop posture", 1, bool(runs),
                [Evidence(f"runs `{h.text}`", True, file=h.file, line=h.line) for h in runs]
                or [Evidence("no CI job runs `jackstop posture`: a regression goes unseen", False)],
                "add `jackstop posture . --fail-under 7 --format html -o posture.html` to CI and keep the report "
                "as an artifact")
    j.criterion("developer docs say how AI keys are handled", 1, bool(app.docs),
                [Evidence(f"says: {text}", True, file=f, line=n) for f, n, text in app.docs]
                or [Evidence("no SECURITY.md, CONTRIBUTING.md, README or docs/ page says where AI keys live and what "
                             "to do when one leaks", False)],
                "write in SECURITY.md where AI keys live (the jackstop gateway; apps hold jsk_ keys) and what to do "
                "when one leaks (`jackstop panic`, then rotate); `jackstop posture --explain 1` has the text")
    return j.result()
