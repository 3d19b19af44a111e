from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RunsConfig(AppConfig):
    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from runs.schedules import schedules_ensure

        post_migrate.connect(schedules_ensure, sender=self, dispatch_uid="runs-schedules")
        from django_q.signals import post_spawn

        from runs.tasks import worker_heap_freeze

        post_spawn.connect(worker_heap_freeze, dispatch_uid="runs-worker-heap-freeze")
        # A prompt's page shows the inference form and the prompt's runs (prompts cannot import runs).
        from runs import prompt_sections  # noqa: F401
