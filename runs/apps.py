from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A prompt's page shows the inference form and the prompt's runs (prompts cannot import runs).
        from runs import prompt_sections  # noqa: F401
