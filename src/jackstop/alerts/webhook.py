"""The webhook channel: one HTTP POST of a JSON body (generic or Slack) per alert.

Standard library only (urllib): a POST every few minutes at most needs no connection pool.
Redirects are not followed (a redirected alert would lose its body or go somewhere unplanned).
Only scheme://host[:port] of the URL is ever shown: the path of many webhook URLs is a token.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import parsedate_to_datetime
from typing import Any

from jackstop import __version__
from jackstop.alerts.channels import Secrets, SendError
from jackstop.alerts.model import Alert
from jackstop.alerts.render import json_body, slack_body
from jackstop.alerts.settings import WebhookSettings, is_secret_ref
from jackstop.redact import redact

_RETRYABLE_4XX = {408, 425, 429}
_SNIPPET = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def display_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class WebhookChannel:
    def __init__(self, name: str, settings: WebhookSettings, secrets: Secrets, timeout: float) -> None:
        self.name = name
        self.min_severity = settings.min_severity
        self._settings = settings
        self._secrets = secrets
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def body(self, alert: Alert) -> bytes:
        doc = slack_body(alert) if self._settings.format == "slack" else json_body(alert)
        return json.dumps(doc, default=str, ensure_ascii=False).encode("utf-8")

    def _request(self, alert: Alert) -> tuple[urllib.request.Request, tuple[str, ...]]:
        secrets: list[str] = []
        url = self._settings.url
        if is_secret_ref(url):
            url = self._secrets.resolve(url)
            secrets.append(url)
            if not url.startswith(("http://", "https://")):
                raise SendError(f"{self._settings.url} does not hold an http:// or https:// URL", permanent=True)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"jackstop/{__version__}",
            # Delivery is at-least-once; receivers can drop repeats by this key.
            "Idempotency-Key": hashlib.sha256(alert.dedupe_key.encode()).hexdigest()[:32],
        }
        for hname, value in self._settings.headers.items():
            if is_secret_ref(value):
                value = self._secrets.resolve(value)
                secrets.append(value)
                if any(c in value for c in "\r\n\0"):
                    raise SendError(f"the secret for header {hname} contains a line break", permanent=True)
            headers[hname] = value
        req = urllib.request.Request(url, data=self.body(alert), headers=headers, method="POST")
        return req, tuple(secrets)

    def send(self, alert: Alert) -> None:
        req, secrets = self._request(alert)
        where = display_url(req.full_url)
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                resp.read(65536)
        except urllib.error.HTTPError as exc:
            try:
                snippet = exc.read(_SNIPPET).decode("utf-8", "replace").strip()
            except (OSError, ValueError):
                snippet = ""
            status = exc.code
            detail = f": {' '.join(snippet.split())}" if snippet else ""
            if 300 <= status < 400:
                msg = f"HTTP {status} redirect from {where} (redirects are not followed; set url to the final address)"
            else:
                msg = f"HTTP {status} from {where}{detail}"
            permanent = 300 <= status < 500 and status not in _RETRYABLE_4XX
            raise SendError(redact(msg, secrets), permanent=permanent,
                            retry_after=_retry_after(exc.headers.get("Retry-After") if exc.headers else None)) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            if isinstance(reason, TimeoutError):
                text = f"no answer within {self._timeout:g}s"
            raise SendError(redact(f"cannot reach {where}: {text}", secrets)) from None
        except TimeoutError:
            raise SendError(f"no answer from {where} within {self._timeout:g}s") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset mid-answer, bad status line
            raise SendError(redact(f"{where}: {exc.__class__.__name__}: {exc}", secrets)) from None
