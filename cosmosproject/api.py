"""The JSON API: one NinjaAPI that mounts each app's router and gives every error one shape.

Every error body is `{"detail": "<what to fix>", "field": "<the field, when one is at fault>"}`;
a request that fails validation also lists each problem in `errors`. Domain errors map to
404/403/422/409, a missing login to 401, ninja's own validation to 422, a body that is not
JSON (or is too big) to 400/413 and an unreachable GPU host to 502, so a client never has to
parse two error formats.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import BaseRenderer

from accounts.api import router as accounts_router
from gpu.errors import GPUError
from prompts.api import router as prompts_router
from prompts.api_render import to_json
from prompts.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from runs.api import router as runs_router
from runs.api import system_router


class JSONRenderer(BaseRenderer):
    """Every ninja response's body, encoded as the list reads encode theirs (prompts.api_render)."""

    media_type = "application/json"

    def render(self, request, data, *, response_status: int) -> bytes:
        return to_json(data)


class CosmosAPI(NinjaAPI):
    """NinjaAPI with its OpenAPI schema built once per process: building it took 80-200 ms on
    every request of /api/openapi.json, and nothing in it can change while the process runs.

    The built schema also documents 401 (the shared error body) on every operation that needs
    authentication, whichever router it comes from and whether or not it listed 401 itself.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas: dict = {}

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        if key not in self._schemas:
            schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            self._schemas[key] = _document_unauthenticated(schema)
        return self._schemas[key]


UNAUTHENTICATED = {
    "description": "No valid token or session",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


def _document_unauthenticated(schema):
    for item in schema["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("security"):
                operation["responses"].setdefault("401", UNAUTHENTICATED)
    return schema


api = CosmosAPI(
    title="Cosmos Workflow API",
    version="1.0",
    description=(
        "Prompts, runs and GPU hosts of Cosmos Workflow. Authenticate with a session or "
        "`Authorization: Bearer <token>` (create tokens on your profile page or with `cosmos token create`). "
        "Ids are strings: `ps_...` for prompts, `rs_...` for runs. Every error answers "
        '`{"detail": "...", "field": "..."}`.'
    ),
    urls_namespace="api",
    renderer=JSONRenderer(),
)

# A domain error becomes the status that says what went wrong; the body is the same shape everywhere.
STATUS_FOR_ERROR = {NotFound: 404, NotAllowed: 403, InvalidInput: 422, Conflict: 409}
# Where ninja says a value came from; for a body the next part of `loc` is the parameter's name.
PARAM_SOURCES = {"body", "query", "path", "form", "file", "header", "cookie"}


def error_body(detail: str, field: str | None = None, errors: list[dict] | None = None) -> dict:
    body: dict = {"detail": detail}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return body


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    status = next((code for cls, code in STATUS_FOR_ERROR.items() if isinstance(exc, cls)), 400)
    return api.create_response(request, error_body(exc.message, exc.field), status=status)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return api.create_response(
        request,
        error_body("Authentication required: send 'Authorization: Bearer <token>' or log in."),
        status=401,
    )


def _field_of(loc: list) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in PARAM_SOURCES:
        source = parts.pop(0)
        if source == "body" and parts:
            parts.pop(0)  # the view's parameter name, which the client never sees
    return ".".join(parts)


@api.exception_handler(ValidationError)
def invalid(request, exc: ValidationError):
    errors = []
    for error in exc.errors:
        field = _field_of(error.get("loc", []))
        message = error.get("msg", "Invalid value")
        if error.get("type") == "missing":
            message = "This field is required"
        errors.append({"field": field, "message": message})
    first = errors[0] if errors else {"field": "", "message": "Invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return api.create_response(request, error_body(detail, first["field"], errors), status=422)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    detail = str(exc)
    if isinstance(exc.__cause__, ValueError):  # ninja's "Cannot parse request body": say where
        detail = f"The request body is not valid JSON ({exc.__cause__})."
    return api.create_response(request, error_body(detail), status=exc.status_code)


@api.exception_handler(GPUError)
def gpu_unreachable(request, exc: GPUError):
    # The GPU host, not this server, failed: a gateway error the client may retry.
    return api.create_response(request, error_body(exc.message), status=502)


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return api.create_response(
        request, error_body("The request body is too big; upload videos as multipart files."), status=413
    )


@api.exception_handler(MultiPartParserError)
@api.exception_handler(SuspiciousOperation)
def malformed(request, exc):
    # Django's message for these is safe and says what is wrong with the request (bad multipart,
    # too many fields...).
    return api.create_response(request, error_body(f"Malformed request: {exc}"), status=400)


# Last: any other /api/ URL answers a JSON 404 (not Django's HTML page), whatever the method.
fallback = Router()


@fallback.api_operation(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False)
def unknown_endpoint(request, rest: str):
    return api.create_response(request, error_body(f"No API endpoint /api/{rest}; see /api/docs."), status=404)


api.add_router("/", accounts_router)
api.add_router("/", prompts_router)
api.add_router("/", runs_router)
api.add_router("/", system_router)
api.add_router("/", fallback)
