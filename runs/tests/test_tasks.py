"""The runs app's hooks into the task queue's worker processes."""

import gc

from django_q.signals import post_spawn


def test_a_new_worker_freezes_the_heap_it_inherited():
    gc.unfreeze()
    try:
        post_spawn.send(sender="django_q", proc_name="Process-1")  # what q2 sends in a fresh worker
        assert gc.get_freeze_count() > 0  # collections leave the inherited objects (and their pages) alone
    finally:
        gc.unfreeze()
