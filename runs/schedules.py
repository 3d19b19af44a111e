"""The q2 schedules of the runs app, created idempotently after every `migrate` (so `make run`,
which migrates first, always has them): dispatch and reconcile, every minute."""

from __future__ import annotations

SCHEDULES = {
    "cosmos-dispatch": "runs.tasks.dispatch_task",
    "cosmos-reconcile": "runs.tasks.reconcile_task",
}


def schedules_ensure(**_signal_kwargs) -> None:
    from django_q.models import Schedule  # models are ready only once migrate runs this

    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1}
        )
