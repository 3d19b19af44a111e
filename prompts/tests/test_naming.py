"""Smart names: the real offline KeyBERT model, loaded once per process; a simple fallback without it."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command

from prompts import naming
from prompts.models import Prompt
from prompts.naming import simple_name, smart_name
from prompts.tasks import prompt_smart_name


@pytest.fixture
def fresh_model_state():
    """Start the test as a fresh process would (no model); keep a real model either way afterwards."""
    saved = naming._model
    naming._model, naming._model_failed = None, False
    yield
    naming._model = saved or naming._model
    naming._model_failed = False


@pytest.mark.parametrize(
    "text, name",
    [
        ("A beautiful sunset over the ocean with waves", "sunset_ocean_waves"),
        ("A futuristic city at night", "futuristic_city_night"),
        ("Cyberpunk!!! 2077 streets", "cyberpunk_streets"),
        ("Un café in Paris", "un_cafe_paris"),
        ("the of a", "the_of_a"),
        ("日本の街", "prompt"),
        ("", "prompt"),
    ],
)
def test_simple_name_keeps_the_meaningful_words(text, name):
    assert simple_name(text) == name


def test_names_are_snake_case_and_at_most_50_characters():
    name = simple_name("Supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification")
    assert len(name) <= 50 and name == "supercalifragilisticexpialidocious"
    assert len(simple_name("x" * 80)) == 50


@pytest.mark.slow
def test_smart_name_uses_keybert_keyphrases():
    assert smart_name("A beautiful sunset over the ocean with waves") == "sunset_ocean_waves"
    assert smart_name("A futuristic city at night with neon lights") == "night_neon_lights"
    assert smart_name("Heavy rain with water puddles on a cobblestone street") == "rain_puddles_cobblestone"
    assert naming.model_status() == "loaded"


@pytest.mark.slow
def test_model_loads_once_for_concurrent_callers(fresh_model_state, monkeypatch):
    loads = []
    real_load = naming._load

    def counting_load():
        loads.append(threading.get_ident())
        return real_load()

    monkeypatch.setattr(naming, "_load", counting_load)
    names = []
    threads = [threading.Thread(target=lambda: names.append(smart_name("A futuristic city at night"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads and len(loads) == 1
    assert names == ["futuristic_city_night"] * 4


def test_a_model_that_cannot_load_falls_back_to_simple_names(fresh_model_state, monkeypatch, caplog):
    def broken_load():
        raise OSError("model files missing")

    monkeypatch.setattr(naming, "_load", broken_load)
    assert smart_name("Heavy rain with water puddles on a cobblestone street") == "heavy_rain_water"
    assert naming.model_status() == "failed"
    assert "could not be loaded" in caplog.text
    monkeypatch.setattr(naming, "_load", lambda: pytest.fail("a failed load is not retried on every call"))
    assert smart_name("Snow") == "snow"


def test_smart_names_switched_off_never_load_the_model(fresh_model_state, monkeypatch, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}
    monkeypatch.setattr(naming, "_load", lambda: pytest.fail("the model must not load"))
    assert smart_name("Heavy rain with water puddles on a cobblestone street") == "heavy_rain_water"


@pytest.mark.slow
@pytest.mark.django_db
def test_background_task_replaces_the_instant_name(alice, make_prompt):
    prompt = make_prompt(alice, "A futuristic city at night with neon lights")
    assert prompt.name == "futuristic_city_night"
    assert prompt_smart_name(prompt.id) == "night_neon_lights"
    assert Prompt.objects.get(pk=prompt.id).name == "night_neon_lights"


@pytest.mark.slow
@pytest.mark.django_db
def test_cli_create_prints_the_id_and_smart_name(admin_user, scene_dir):
    out = StringIO()
    call_command("cosmos", "create", "prompt", "A futuristic city at night", str(scene_dir), stdout=out)
    prompt = Prompt.objects.get()
    assert out.getvalue().strip() == f'Created prompt {prompt.id} with name "futuristic_city_night"'
    assert prompt.id.startswith("ps_") and prompt.name_is_auto
