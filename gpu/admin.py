"""Admin for GPU hosts. The key path is write-only (never shown back); edits are validated by
gpu.services.host_validate, the same rules as `cosmos host add`."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from gpu.errors import HostInputInvalid
from gpu.models import GPUHost
from gpu.selectors import host_key_fingerprint
from gpu.services import host_validate

VALIDATED = ("name", "transport", "hostname", "port", "username", "remote_dir", "docker_cmd", "image", "slots",
             "gpus_per_job", "shm_size", "simulated", "sim_config", "enabled")


class GPUHostForm(forms.ModelForm):
    key_path = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Path of the private key file on the server. Not shown again; leave blank to keep the current one.",
    )

    class Meta:
        model = GPUHost
        fields = ["name", "transport", "hostname", "port", "username", "key_path", "remote_dir", "docker_cmd",
                  "image", "slots", "gpus_per_job", "shm_size", "enabled", "simulated", "sim_config"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        key_path = data.get("key_path") or (self.instance.key_path if self.instance.pk else "")
        try:
            values = host_validate(key_path=key_path, last_check=self.instance.last_check if self.instance.pk else None,
                                   **{k: data.get(k) for k in VALIDATED})
        except HostInputInvalid as exc:
            field = exc.field if exc.field in self.fields else None
            raise forms.ValidationError({field: exc.message} if field else exc.message) from None
        if GPUHost.objects.filter(name=values["name"]).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError({"name": f"A host named {values['name']!r} exists already."})
        data.update(values)
        return data


@admin.register(GPUHost)
class GPUHostAdmin(admin.ModelAdmin):
    form = GPUHostForm
    list_display = ("name", "transport", "address", "simulated", "enabled", "slots", "gpus_per_job", "last_checked_at")
    list_filter = ("transport", "simulated", "enabled")
    search_fields = ("name", "hostname")
    readonly_fields = ("pinned_key", "last_check", "last_checked_at", "created_at")

    @admin.display(description="pinned host key")
    def pinned_key(self, obj: GPUHost) -> str:
        return host_key_fingerprint(obj) or "none yet: run `cosmos host check NAME --accept-new-key`"
