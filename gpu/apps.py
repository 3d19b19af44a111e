from django.apps import AppConfig


class GpuConfig(AppConfig):
    name = "gpu"
    default_auto_field = "django.db.models.BigAutoField"
