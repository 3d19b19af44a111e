"""The API documents itself: OpenAPI at /api/openapi.json, interactive docs at /api/docs that work offline."""

from __future__ import annotations

import re

import pytest

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head"}


@pytest.fixture
def schema(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_every_operation_has_a_summary_and_a_documented_success(schema):
    ops = list(operations(schema))
    assert len(ops) >= 5
    for path, method, operation in ops:
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        assert any(code.startswith("2") for code in operation["responses"]), f"{method.upper()} {path}"


def test_every_authenticated_operation_documents_401_with_the_error_shape(schema):
    for path, method, operation in operations(schema):
        if operation.get("security"):
            error = operation["responses"].get("401")
            assert error, f"{method.upper()} {path} does not document 401"
            ref = error["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut")


def test_request_bodies_carry_examples(schema):
    bodies = [
        operation["requestBody"]
        for _, method, operation in operations(schema)
        if method == "post" and "requestBody" in operation
    ]
    assert bodies
    text = str(bodies) + str(schema["components"]["schemas"])
    assert "examples" in text or "example" in text


def test_docs_page_loads_its_assets_from_this_server(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset


def test_every_operation_but_the_docs_needs_authentication(schema):
    for path, method, operation in operations(schema):
        assert operation.get("security"), f"{method.upper()} {path} is open"


def test_the_schema_is_built_once_per_process(client):
    from cosmosproject.api import api

    first = api.get_openapi_schema()
    assert api.get_openapi_schema() is first
    assert client.get("/api/openapi.json").json() == client.get("/api/openapi.json").json()
