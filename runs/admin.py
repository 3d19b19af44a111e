"""Admin for runs, and a prompt's runs inline on its admin page. Read-only; deleting goes through runs.services.

The prompt admin is re-registered here with its runs inline and with deletion, because both need
runs (prompts may not import runs).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html

from prompts.access import is_staff
from prompts.admin import OwnedModelAdmin, PromptAdmin
from prompts.errors import DomainError
from prompts.models import Prompt
from runs.models import ACTIVE_STATUSES, Run
from runs.services import prompt_delete, run_delete


def _deletable(obj) -> bool:
    """Staff may delete what they see, except while it is running (the services refuse it too)."""
    if obj is None:
        return True
    runs = Run.objects.filter(prompt=obj) if isinstance(obj, Prompt) else Run.objects.filter(pk=obj.pk)
    return not runs.filter(status__in=ACTIVE_STATUSES).exists()


class DeleteThroughService:
    """Deleting calls a runs service (files, refusals and all); not offered while work is active."""

    @staticmethod
    def delete_service(*, user, pk: str) -> None:
        raise NotImplementedError

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request, obj) and _deletable(obj)

    def delete_model(self, request, obj):
        self._delete(request, [obj])

    def delete_queryset(self, request, queryset):
        self._delete(request, list(queryset))

    def _delete(self, request, objects) -> None:
        for obj in objects:
            try:
                self.delete_service(user=request.user, pk=obj.pk)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)


@admin.register(Run)
class RunAdmin(DeleteThroughService, OwnedModelAdmin):
    list_display = ["id", "prompt_link", "owner", "model_type", "status", "host", "created_at", "duration"]
    list_filter = ["status", "model_type", ("owner", admin.RelatedOnlyFieldListFilter), "host", "created_at"]
    list_select_related = ["owner", "host", "prompt"]
    search_fields = ["=id", "=prompt__id", "prompt__name", "=batch_id", "=job_id"]
    search_help_text = "Run id, prompt id, batch id or job id (exact), or words of the prompt's name."
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Run._meta.fields] + ["duration"]

    @admin.display(description="prompt", ordering="prompt__name")
    def prompt_link(self, run):
        url = reverse("admin:prompts_prompt_change", args=[quote(run.prompt_id)])
        return format_html('<a href="{}">{}</a> {}', url, run.prompt_id, run.prompt.name)

    @admin.display(description="duration")
    def duration(self, run):
        seconds = run.duration_seconds
        return "—" if seconds is None else f"{seconds:.0f} s"

    @staticmethod
    def delete_service(*, user, pk: str) -> None:
        run_delete(user=user, run_id=pk)

    def has_change_permission(self, request, obj=None):
        return False  # a run's fields are its history: shown, not edited


class RunInline(admin.TabularInline):
    model = Run
    fk_name = "prompt"
    fields = ["id", "model_type", "status", "owner", "created_at", "completed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]

    def has_view_permission(self, request, obj=None):
        return is_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PromptWithRunsAdmin(DeleteThroughService, PromptAdmin):
    inlines = [RunInline]

    @staticmethod
    def delete_service(*, user, pk: str) -> None:
        prompt_delete(user=user, prompt_id=pk)


admin.site.unregister(Prompt)
admin.site.register(Prompt, PromptWithRunsAdmin)
