"""The JSON API: one NinjaAPI that mounts each app's router and maps domain errors to HTTP."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from accounts.api import router as accounts_router
from prompts.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound

api = NinjaAPI(
    title="Cosmos Workflow API",
    version="1.0",
    description="Prompts, runs and GPU hosts of Cosmos Workflow. Authenticate with a session or "
    "`Authorization: Bearer <token>` (create tokens on your profile page or with `cosmos token create`).",
    urls_namespace="api",
)

# A domain error becomes the status that says what went wrong; the body is the same shape everywhere.
STATUS_FOR_ERROR = {NotFound: 404, NotAllowed: 403, InvalidInput: 422, Conflict: 409}


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    status = next((code for cls, code in STATUS_FOR_ERROR.items() if isinstance(exc, cls)), 400)
    body = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return api.create_response(request, body, status=status)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return api.create_response(
        request, {"detail": "Authentication required: send 'Authorization: Bearer <token>' or log in."}, status=401
    )


api.add_router("/", accounts_router)
