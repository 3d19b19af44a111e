"""Request bodies of the API operations that read their own body because they take more than one
content type (JSON, or multipart uploads): parse, validate, and document them.

Ninja parses and documents a body only for one content type. These helpers give such an operation
the same behaviour: validation errors shaped like ninja's own (so `cosmosproject.api` reports them
the same way), and an OpenAPI request body built from the same pydantic models that validate it.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from ninja.errors import HttpError, ValidationError

from prompts.errors import InvalidInput

JSON = "application/json"
MULTIPART = "multipart/form-data"


def json_body(request) -> Any:
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise HttpError(400, "Cannot parse request body") from exc  # worded like ninja's own


def validated(schema: type[pydantic.BaseModel], data, *, loc: tuple[str, ...]):
    """`data` validated by `schema`; a failure is reported like ninja's own validation errors.

    `loc` follows ninja: form fields are flat (`("form",)`), a JSON body sits under the name of
    the parameter it would fill (`("body", "payload")`).
    """
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [{"loc": (*loc, *error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()]
        ) from None


def inline_schema(model: type[pydantic.BaseModel]) -> dict:
    """The model's JSON schema with its nested models written in place: an operation's own
    request body cannot point into the schema's `$defs` (OpenAPI resolves `#/...` from its root)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def form_schema(model: type[pydantic.BaseModel], *, files: dict[str, str]) -> dict:
    """A multipart form's schema: the model's fields (a form field is never null, so optional
    ones are simply not required) plus the file fields, `name -> description`."""
    schema = inline_schema(model)
    properties = {}
    for name, prop in schema["properties"].items():
        options = [option for option in prop.get("anyOf", []) if option.get("type") != "null"]
        if len(options) == 1:
            prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        properties[name] = prop
    for name, description in files.items():
        properties[name] = {"type": "string", "format": "binary", "description": description}
    return {**schema, "properties": properties}
