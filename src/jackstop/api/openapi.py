"""The admin API's OpenAPI 3.1 document, generated from the operations and the control plane's
models (a policy is described field by field, not as "an object")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from jackstop import __version__
from jackstop.api.operation import PREFIX, Operation
from jackstop.control.models import Error

_REF = "#/components/schemas/{model}"


def document(operations: Iterable[Operation]) -> dict[str, Any]:
    ops = list(operations)
    models: list[type[BaseModel]] = [Error]
    for op in ops:
        models += [op.response] + ([op.body] if op.body else [])
    # Validation mode throughout: responses are described by what a client may rely on receiving.
    _, schemas = models_json_schema([(model, "validation") for model in dict.fromkeys(models)], ref_template=_REF)
    paths: dict[str, Any] = {}
    for op in ops:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    paths[PREFIX + "/openapi.json"] = {"get": {
        "summary": "This document", "operationId": "openapi", "security": [],
        "responses": {"200": {"description": "the OpenAPI 3.1 document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "jackstop admin API", "version": __version__,
                 "description": "Everything the `jackstop` CLI does to keys, projects, providers, policies and tokens, "
                                "over JSON. Errors: {\"error\": {\"code\", \"message\"}} and the x-jackstop-error header."},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer",
                                               "description": "an admin token (jsa_…)"}},
            "responses": {"Error": {
                "description": "error", "headers": {"x-jackstop-error": {"schema": {"type": "string"},
                                                                          "description": "the rule that refused"}},
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}},
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary, "operationId": op.name, "security": [{"adminToken": []}],
        "x-jackstop-roles": list(op.roles),
        "responses": {str(op.status): {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=op.response.__name__)}}}}},
    }
    for status in (*op.errors, 409, 413) if op.body is not None else (*op.errors, 409):
        out["responses"][str(status)] = {"$ref": "#/components/responses/Error"}
    params: list[dict[str, Any]] = [{"name": n, "in": "path", "required": True,
                                     "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                                                "pattern": r"^[^/]+$"}}
                                    for n in re.findall(r"\{(\w+)\}", op.path)]
    if op.query is not None:
        for name, field in op.query.model_fields.items():
            schema = op.query.model_json_schema()["properties"][name]
            schema.pop("title", None)
            params.append({"name": name, "in": "query", "required": field.is_required(), "schema": schema,
                           **({"description": field.description} if field.description else {})})
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=op.body.__name__)}}}}
    return out
