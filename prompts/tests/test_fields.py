"""prompts.fields.JSONField reads back what Django's JSONField reads, from the real database."""

from __future__ import annotations

import json

import pytest
from django.db import connection, models

from prompts.fields import JSONField
from prompts.models import Prompt

pytestmark = pytest.mark.django_db

VALUES = [
    {},
    [],
    {"num_steps": 35, "guidance": 8.0, "seed": 123456789012345678901234567890, "nested": {"list": [1, 2.5, None, True]}},
    {"text": "héllo 😀 \"quoted\" \\ back\n", "list": [{"a": []}, {}], "float": 0.1},
    "a plain string",
    42,
]


@pytest.mark.parametrize("value", VALUES)
def test_values_read_back_as_djangos_field_reads_them(alice, value):
    prompt = Prompt.objects.create(owner=alice, prompt_text="x", parameters=value)

    read = Prompt.objects.values_list("parameters", flat=True).get(pk=prompt.pk)

    with connection.cursor() as cursor:  # the text as stored (PostgreSQL's jsonb gives its own)
        cursor.execute("SELECT parameters FROM prompts_prompt WHERE id = %s", [prompt.pk])
        stored = cursor.fetchone()[0]
    assert repr(read) == repr(json.loads(stored))  # types, key order and all
    assert read == value
    assert type(Prompt._meta.get_field("parameters")) is JSONField


@pytest.mark.parametrize(
    "text",
    ["123456789012345678901234567890", "-0.0", "5e-324", "1.7976931348623157e308", "3.141592653589793",
     "NaN", "-Infinity", '{"a": 1, "a": 2}', '"\\ud83d\\ude00 \\u0000"', '  {"k" : [ ] }  '],
)
def test_texts_parse_as_json_loads_parses_them(text):
    assert repr(JSONField().from_db_value(text, None, None)) == repr(json.loads(text))


def test_what_the_fast_parser_refuses_goes_to_djangos_reading():
    field = JSONField()
    lone_surrogate = json.dumps({"k": "\ud83d"})  # valid for json.loads, refused by pydantic-core
    assert field.from_db_value(lone_surrogate, None, None) == {"k": "\ud83d"}
    assert field.from_db_value("not json", None, None) == "not json"  # as Django's field answers it


def test_migrations_see_djangos_field():
    assert JSONField(default=dict).deconstruct()[1] == "django.db.models.JSONField"
    assert models.JSONField(default=dict).deconstruct()[1:] == JSONField(default=dict).deconstruct()[1:]
