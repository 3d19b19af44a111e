"""Admin for API tokens: create one (its value is shown once in a message) and revoke."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from accounts.models import ApiToken
from accounts.tokens import TokenError, token_create, token_revoke


class TokenAddForm(forms.ModelForm):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.order_by("username"))

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TokenAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ["user", "name"] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            token, raw = token_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        except TokenError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = token.pk
        self.message_user(
            request, f"Token for {token.user}: {raw} — copy it now, it is not shown again.", messages.WARNING
        )

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request, queryset):
        for token in queryset:
            token_revoke(user=request.user, token_id=token.pk)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
