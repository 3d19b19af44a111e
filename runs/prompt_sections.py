"""The sections `runs` adds to a prompt's page: the inference form (with enhance and delete) and
the prompt's runs. Registered with prompts.page_sections when the app is ready."""

from __future__ import annotations

from django.template.loader import render_to_string

from prompts.page_sections import prompt_page_section
from runs.forms import InferenceForm
from runs.models import ACTIVE_STATUSES
from runs.selectors import runs_of_prompt


def prompt_runs_context(request, prompt) -> dict:
    runs = runs_of_prompt(user=request.user, prompt=prompt)
    return {"prompt": prompt, "runs": runs, "any_active": any(r.status in ACTIVE_STATUSES for r in runs)}


@prompt_page_section("actions")
def inference_section(request, prompt) -> str:
    return render_to_string("runs/_prompt_actions.html", {"prompt": prompt, "form": InferenceForm()}, request=request)


@prompt_page_section("related")
def runs_section(request, prompt) -> str:
    return render_to_string("runs/_prompt_runs.html", prompt_runs_context(request, prompt), request=request)
