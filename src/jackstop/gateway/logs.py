"""Logs are JSON lines, and every line passes through the one redaction function."""

from __future__ import annotations

import logging
import sys
import time

import orjson

from jackstop.redact import redact

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = v
        if record.exc_info and record.exc_info[0] is not None:
            out["exc"] = record.exc_info[0].__name__
            out["trace"] = self.formatException(record.exc_info)  # redacted with the whole line below
        return redact(orjson.dumps(out, default=str).decode())


def setup(level: str = "info", path: str = "") -> None:
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("jackstop")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel("WARNING")
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    # Secret-manager SDKs: jackstop.secrets reports their failures (one line, redacted); anything
    # worse still goes through the redacting handler, never to bare standard error.
    for name in ("azure", "msal", "botocore", "boto3", "hvac", "urllib3"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel("ERROR")
        lg.propagate = False
