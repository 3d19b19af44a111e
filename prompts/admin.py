"""Admin for prompts. Only staff enter the admin; there they see and act on every prompt.

Writes go through the services: renaming calls prompt_rename; prompts are not added here (they
need videos: use the pages, the API or `cosmos create prompt`), and deleting, which reaches runs
and files, is switched on by runs.admin, which owns that service.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from prompts.access import can_act, is_staff, visible_to
from prompts.errors import DomainError
from prompts.models import Prompt
from prompts.search import prompts_matching
from prompts.services import prompt_rename
from prompts.text import name_clean


class OwnedModelAdmin(admin.ModelAdmin):
    """Permissions by the product's rule (prompts.access) rather than Django's per-model grants."""

    def get_queryset(self, request):
        return visible_to(super().get_queryset(request), request.user)

    def has_module_permission(self, request):
        return is_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_staff(request.user) and (obj is None or can_act(request.user, obj))

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PromptForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ["name"]

    def clean_name(self):
        try:
            name = name_clean(self.cleaned_data["name"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        if not name:
            raise forms.ValidationError("Type a name for the prompt.")
        return name


@admin.register(Prompt)
class PromptAdmin(OwnedModelAdmin):
    form = PromptForm
    list_display = ["id", "name", "owner", "model_type", "short_text", "created_at"]
    list_filter = ["model_type", ("owner", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["owner"]
    search_fields = ["id", "name", "prompt_text"]
    search_help_text = "Searches prompt text and name (any case), or an exact prompt id."
    date_hierarchy = "created_at"
    fields = [
        "id",
        "name",
        "name_is_auto",
        "owner",
        "model_type",
        "prompt_text",
        "negative_prompt",
        "input_videos",
        "parameters_json",
        "enhanced_from",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [field for field in fields if field != "name"]

    @admin.display(description="prompt")
    def short_text(self, prompt):
        text = " ".join(prompt.prompt_text.split())
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="input videos")
    def input_videos(self, prompt):
        rows = mark_safe("<tr><th>role</th><th>size</th><th>frames</th><th>fps</th><th>sha256</th></tr>")
        for role, info in prompt.inputs.items():
            rows += format_html(
                "<tr><td>{}</td><td>{}x{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                role,
                info.get("width"),
                info.get("height"),
                info.get("frames"),
                info.get("fps"),
                info.get("sha256"),
            )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="parameters")
    def parameters_json(self, prompt):
        return format_html("<pre>{}</pre>", json.dumps(prompt.parameters, indent=2, sort_keys=True))

    def get_search_results(self, request, queryset, search_term):
        # The product's search (indexed, same meaning as `cosmos search`), plus an exact id match.
        term = search_term.strip()
        if not term:
            return queryset, False
        return prompts_matching(queryset, term) | queryset.filter(pk=term), False

    def save_model(self, request, obj, form, change):
        if "name" in form.changed_data:
            renamed = prompt_rename(user=request.user, prompt_id=obj.pk, name=form.cleaned_data["name"])
            obj.name, obj.name_is_auto = renamed.name, renamed.name_is_auto
