"""Which provider dialect and endpoint a request is for, and which credentials it carries."""

from __future__ import annotations

import importlib
import pkgutil
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote
from types import ModuleType
from typing import Mapping

import jackstop.mockprovider as _package
from jackstop.mockprovider import gemini_api


def _dialects() -> dict[str, ModuleType]:
    """Every `*_api` module of this package that names its FAMILY: one per provider wire format,
    so a new family's mock is one module here (optional hooks: resolve_path, check_request,
    generate_key, DEFAULT_MODELS)."""
    found = {}
    for info in sorted(pkgutil.iter_modules(_package.__path__), key=lambda i: i.name):
        if info.name.endswith("_api"):
            module = importlib.import_module(f"{_package.__name__}.{info.name}")
            if isinstance(getattr(module, "FAMILY", None), str):
                found[module.FAMILY] = module
    return found


DIALECTS: dict[str, ModuleType] = _dialects()
# Credential headers every dialect together reads (each dialect's pick_credential chooses).
_KEY_HEADERS = ("x-api-key", "x-goog-api-key", "api-key")

_GEMINI_METHOD = re.compile(r"^/(v1|v1beta)/models/([^/:]+):([A-Za-z]+)$")
_GEMINI_LIST = re.compile(r"^/(v1|v1beta)/models/?$")


@dataclass(frozen=True)
class Route:
    family: str
    endpoint: str | None  # None: no such route in that dialect (answered with its 404)
    path_model: str | None = None


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def decode_path(raw_path: str) -> str:
    """The path a real provider's HTTP front end routes on, from the raw request target.

    The query starts at the first raw `?` (an encoded `%3F` stays in the path). The path is
    percent-decoded, and decoded a second time when that left escapes behind (`%253A` -> `:`),
    as Google's front ends do; then empty and `.`/`..` segments are resolved (nginx-style
    merge_slashes and dot-segment removal). Decoding is the generous reading on purpose:
    whatever the gateway forwards must mean one route under it.
    """
    path = raw_path.split("?", 1)[0].split("#", 1)[0]
    path = unquote(path, errors="replace")
    if _ESCAPE.search(path):
        path = unquote(path, errors="replace")
    path = path.replace("\\", "/")
    trailing = path.endswith("/") and len(path) > 1
    path = posixpath.normpath("/" + path.lstrip("/"))
    path = "/" + path.lstrip("/")
    return path + "/" if trailing and path != "/" else path


def collect_credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """Every place a key may be carried, keyed by where it was found; Bearer prefix removed."""
    found: dict[str, str] = {}
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        found["authorization"] = token.strip() if scheme.lower() == "bearer" else auth
    for name in _KEY_HEADERS:
        if headers.get(name):
            found[name] = headers[name]
    if query.get("key"):
        found["query:key"] = query["key"]
    return found


def _guess_family(path: str, headers: Mapping[str, str], credentials: Mapping[str, str]) -> str:
    """For colliding or unknown paths: the credential header (or version header) decides."""
    if "x-goog-api-key" in credentials or "query:key" in credentials or \
            path.startswith("/v1beta/"):
        return "gemini"
    if "x-api-key" in credentials or "anthropic-version" in headers:
        return "anthropic"
    return "openai"


def resolve(method: str, path: str, headers: Mapping[str, str],
            credentials: Mapping[str, str]) -> Route:
    for name, dialect in DIALECTS.items():  # families whose paths are their own (Azure's /openai/…)
        own = getattr(dialect, "resolve_path", None)
        found = own(method, path) if own is not None else None
        if found is not None:
            return Route(name, found[0], found[1])
    match = _GEMINI_METHOD.match(path)
    if match:
        endpoint = gemini_api.METHODS.get(match.group(3)) if method == "POST" else None
        return Route("gemini", endpoint, match.group(2))
    family = _guess_family(path, headers, credentials)
    if method == "GET" and _GEMINI_LIST.match(path):
        if family == "gemini":
            return Route("gemini", "gemini.models")
        if path.rstrip("/") == "/v1/models":
            return Route(family, f"{family}.models")
    for name in ("openai", "anthropic"):
        endpoint = DIALECTS[name].ROUTES.get((method, path))
        if endpoint and not endpoint.endswith(".models"):
            return Route(name, endpoint)
    return Route(family, None)
