"""Azure OpenAI's wire format: OpenAI's bodies and streams behind Azure's routes, key and errors.

Routes  POST /openai/deployments/{deployment}/chat/completions | completions | embeddings |
        images/generations ?api-version=YYYY-MM-DD[-preview]   (required);
        POST /openai/responses?api-version=…  and  /openai/v1/chat/completions | completions |
        responses | embeddings | images/generations  (the deployment is the body's `model`;
        api-version optional: v1, preview or latest).
Auth    `api-key` only (a Bearer token is Entra ID's, which the mock does not issue): 401
        {"error": {"code": "401", "message": "Access denied due to invalid subscription key…"}}.
Errors  a missing or unknown api-version: 404 {"error": {"code": "404", "message": "Resource not
        found"}}; a deployment the resource lacks: 404 DeploymentNotFound; 429 and 5xx in Azure's
        {code, message} shape; invalid requests (400) in OpenAI's shape, which Azure relays.
Deployments  DEPLOYMENTS below: deployment name -> the model it runs (what the answer names
        and bills); `MockProvider(models={"azure-openai": [...]})` limits which exist (strict_models).
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Callable

from jackstop.mockprovider import openai_api
from jackstop.mockprovider.wire import BadRequest, Call, Reply, json_reply

FAMILY = "azure-openai"
# The deployments every mock resource has, and the model each runs.
DEPLOYMENTS = {
    "gpt4o-mini-prod": "gpt-4o-mini",
    "gpt5": "gpt-5",
    "embed-small": "text-embedding-3-small",
    "dalle": "gpt-image-1.5",
}
DEFAULT_MODELS = tuple(DEPLOYMENTS)
_DATED = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
_V1_VERSIONS = ("v1", "preview", "latest")
_TAILS = {
    "chat/completions": "openai.chat",
    "completions": "openai.completions",
    "embeddings": "openai.embeddings",
    "images/generations": "openai.images",
}
_V1_TAILS = {**_TAILS, "responses": "openai.responses"}
_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([^/]+)/(.+)$")


def generate_key() -> str:
    """Azure resource keys: 32 hex characters."""
    return secrets.token_hex(16)


def resolve_path(method: str, path: str) -> tuple[str | None, str | None] | None:
    """(endpoint, deployment named by the path) for an Azure path; None when the path is not Azure's."""
    if not path.startswith("/openai/"):
        return None
    if method != "POST":
        return None, None
    m = _DEPLOYMENT_PATH.match(path)
    if m:
        return _TAILS.get(m.group(2)), m.group(1)
    if path == "/openai/responses":
        return "openai.responses", None
    if path.startswith("/openai/v1/"):
        return _V1_TAILS.get(path[len("/openai/v1/"):]), None
    return None, None


def pick_credential(credentials: dict[str, str]) -> tuple[str, str] | None:
    value = credentials.get("api-key")
    return ("api-key", value) if value else None


def error(status: int, message: str | None = None, *, param: str | None = None,
          code: str | None = None, kind: str | None = None, retry_after: int | None = None) -> Reply:
    if status == 400:  # the model's own validation errors come back in OpenAI's shape
        return openai_api.error(status, message, param=param, code=code, kind=kind, retry_after=retry_after)
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    default = {401: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
                    "valid key for an active subscription and use a correct regional API endpoint for your resource.",
               404: "Resource not found",
               429: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded the "
                    "token rate limit of your current pricing tier. Please retry after 1 second."}
    body = {"error": {"code": code or str(status), "message": message or default.get(status, "Internal server error")}}
    return json_reply(body, status=status, headers=headers)


def stream_error(endpoint: str, framing: str | None, index: int) -> bytes:
    return openai_api.stream_error(endpoint, framing, index)


def auth_error(presented: str | None, place: str | None = None) -> Reply:
    return error(401)


def not_found(method: str, path: str) -> Reply:
    return error(404)


def model_not_found(model: str) -> Reply:
    return error(404, "The API deployment for this resource does not exist. If you created the deployment within "
                      "the last 5 minutes, please wait a moment and try again.", code="DeploymentNotFound")


def invalid_json() -> BadRequest:
    return openai_api.invalid_json()


def check_request(record: Any) -> Reply | None:
    """What Azure refuses before it looks at the body: the api-version."""
    version = record.query.get("api-version")
    if record.path.startswith("/openai/v1/"):
        return None if version in (None, *_V1_VERSIONS) else error(404)
    if version is None or not _DATED.match(version):
        return error(404)
    return None


def _deployed(handler: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
    """Run the OpenAI handler as the deployment's model: Azure routes on the deployment (the path's,
    else the body's `model`) and ignores any other model the body names."""

    def run(call: Call) -> Reply:
        deployment = call.path_model or call.body.get("model")
        model = DEPLOYMENTS.get(deployment) if isinstance(deployment, str) else None
        if model is None or deployment not in call.models:
            return model_not_found(str(deployment))
        call.record.model = model
        return handler(Call(record=call.record, body={**call.body, "model": model}, policy=call.policy,
                            faults=call.faults, models=call.models, path_model=None, query=call.query))

    return run


HANDLERS: dict[str, Callable[[Call], Reply]] = {
    name: _deployed(handler) for name, handler in openai_api.HANDLERS.items() if name != "openai.models"
}
ROUTES: dict[tuple[str, str], str] = {}  # routed by resolve_path
