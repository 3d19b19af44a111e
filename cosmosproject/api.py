"""The JSON API: one NinjaAPI that mounts each app's router and maps domain errors to HTTP."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Cosmos Workflow API",
    version="1.0",
    description="Prompts, runs and GPU hosts of Cosmos Workflow. Authenticate with a session or "
    "`Authorization: Bearer <token>` (create tokens on your profile page or with `cosmos token create`).",
    urls_namespace="api",
)
