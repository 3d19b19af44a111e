from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class GpuConfig(AppConfig):
    name = "gpu"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from gpu.live import forget_saved_host
        from gpu.models import GPUHost

        post_save.connect(forget_saved_host, sender=GPUHost, dispatch_uid="gpu.live.forget_saved_host")
        post_delete.connect(forget_saved_host, sender=GPUHost, dispatch_uid="gpu.live.forget_saved_host.delete")
