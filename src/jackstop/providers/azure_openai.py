"""Azure OpenAI: OpenAI's bodies, streams and errors behind Azure's routes, key header and deployments.

Routes (learn.microsoft.com, "Azure OpenAI REST API reference" and "API version lifecycle"):
  deployment routes  POST /openai/deployments/{deployment}/chat/completions | completions | embeddings |
                     images/generations ?api-version=YYYY-MM-DD[-preview]   (required)
  responses          POST /openai/responses?api-version=…                  (the deployment is `model`)
  v1 routes          POST /openai/v1/chat/completions | completions | responses | embeddings |
                     images/generations [?api-version=v1|preview|latest]   (the deployment is `model`)
Any other query parameter is refused (query_param), and api-version is forwarded only when it
has one of those shapes. Upstream the path is rebuilt from the parsed parts.

Authentication: the `api-key` header (what the AzureOpenAI SDK sends), or `Authorization:
Bearer`; the client puts its jackstop virtual key there, and upstream the gateway sends the
Azure key in `api-key` (never Bearer: that is Entra ID's header on Azure).

Deployments: Azure bills the model a deployment runs, and the name in the path is the
operator's own. The provider's `deployments` map ({"gpt4prod": "gpt-4o"}, set with
`jackstop providers add|update NAME --deployment gpt4prod=gpt-4o`) gives the model that prices and
bounds the request; an unmapped deployment is refused, since it could run any model.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from jackstop.providers.base import COMMON_HEADERS, FamilyRefusal, Kind, Route, segments_of
from jackstop.providers.bounding import Bound
from jackstop.providers.openai import OpenAIFamily, bound_openai
from jackstop.providers.paths import QUERY_RULE, PathError, one_value, parse_query, quote_segment

KIND = "azure-openai"
_DEPLOYMENT_ROUTES = {
    ("chat", "completions"): "chat.completions",
    ("completions",): "completions",
    ("embeddings",): "embeddings",
    ("images", "generations"): "images.generations",
}
_V1_ROUTES = {**_DEPLOYMENT_ROUTES, ("responses",): "responses"}
_DATED = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
_V1_VERSION = re.compile(r"^(v1|preview|latest)$")
# Azure deployment names: letters, digits, - _ . (2 to 64 characters).
DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# max_completion_tokens arrived with api-version 2024-09-01-preview; older versions know max_tokens only.
_COMPLETION_TOKENS_SINCE = "2024-09-01"


def _version(query: str, shape: re.Pattern[str], required: bool) -> str | None:
    params = parse_query(query)
    extra = sorted(set(params) - {"api-version"})
    if extra:
        raise PathError(f"the query parameter {extra[0][:40]!r} is not one jackstop forwards to Azure OpenAI; "
                        f"send only api-version", QUERY_RULE)
    version = one_value(params, "api-version", shape)
    if version is None and required:
        raise PathError("Azure OpenAI deployment routes need ?api-version=YYYY-MM-DD (e.g. 2024-10-21); "
                        "give the api_version your SDK uses", QUERY_RULE)
    return version


def check_deployment(name: str) -> str:
    if not DEPLOYMENT.match(name):
        raise PathError(f"the deployment name {name[:80]!r} may hold only letters, digits and - _ . "
                        f"(starting with a letter or digit, at most 64); use the deployment's name in Azure")
    return name


class AzureOpenAIFamily(OpenAIFamily):
    name = KIND
    dialect = "openai"  # request bodies, attachments, usage, streams and errors are OpenAI's
    kinds = (Kind(KIND, None, (), price_kind="openai",
                  base_url_hint="the resource endpoint, e.g. https://RESOURCE.openai.azure.com "
                                "(its host must be in [providers] approved_hosts)"),)
    endpoints = tuple(dict.fromkeys(_V1_ROUTES.values()))
    rank = 5  # its routes and api-key header are its own: ask it first
    forward_headers = COMMON_HEADERS | {b"x-ms-client-request-id"}
    credential_where = "the api-key header (or Authorization: Bearer)"

    def match(self, method: str, path: str | tuple[str, ...], query: str) -> Route | None:
        segs = segments_of(path)
        if method != "POST" or len(segs) < 2 or segs[0] != "openai":
            return None
        if segs[1] == "deployments" and len(segs) >= 4 and tuple(segs[3:]) in _DEPLOYMENT_ROUTES:
            deployment = check_deployment(segs[2])
            rest = tuple(segs[3:])
            version = _version(query, _DATED, required=True)
            return Route(KIND, _DEPLOYMENT_ROUTES[rest],
                         f"/openai/deployments/{quote_segment(deployment)}/{'/'.join(rest)}",
                         model=deployment, query=urlencode([("api-version", version)]))
        if segs[1:] == ("responses",):
            version = _version(query, _DATED, required=True)
            return Route(KIND, "responses", "/openai/responses", query=urlencode([("api-version", version)]))
        if segs[1] == "v1" and tuple(segs[2:]) in _V1_ROUTES:
            rest = tuple(segs[2:])
            version = _version(query, _V1_VERSION, required=False)
            return Route(KIND, _V1_ROUTES[rest], "/openai/v1/" + "/".join(rest),
                         query=urlencode([("api-version", version)]) if version else "")
        return None

    def claims(self, path: str, headers: dict[bytes, bytes], query: str) -> bool:
        return b"api-key" in headers or path.startswith("/openai/")

    def credential(self, headers: dict[bytes, bytes], query: str) -> str | None:
        key = headers.get(b"api-key")
        if key:
            return key.strip().decode("latin-1")
        return super().credential(headers, query)

    def auth_headers(self, secret: str) -> list[tuple[str, str]]:
        return [("api-key", secret)]

    def priced_model(self, model: str | None, provider: Any) -> str | None:
        if model is None:
            return None
        mapping = provider.policy.get("deployments") if isinstance(provider.policy, dict) else None
        mapped = mapping.get(model) if isinstance(mapping, dict) else None
        if not isinstance(mapped, str):
            raise FamilyRefusal(403, "deployment_not_mapped",
                                f"deployment {model[:64]!r} of provider {provider.name} has no model mapped to it, "
                                f"so jackstop cannot price it; an operator maps it with `jackstop providers update "
                                f"{provider.name} --deployment {model[:64]}=MODEL` (MODEL: what the deployment "
                                f"runs, e.g. gpt-4o)")
        return mapped

    def bound(self, route: Route, kind: str, body: dict[str, Any], ceiling: int, limits: Any, b: Bound) -> None:
        version = parse_query(route.query).get("api-version", ["v1"])[0]
        modern = not version[:1].isdigit() or version >= _COMPLETION_TOKENS_SINCE
        bound_openai(route, kind, body, ceiling, limits, b, native_kinds=(KIND,) if modern else ())


FAMILY = AzureOpenAIFamily()
