"""The report as JSON: every field of every control (see `Report.to_json`)."""

from __future__ import annotations

import json

from jackstop.posture.model import Report


def render(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False)
