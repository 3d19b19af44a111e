"""Errors of the execution layer. Each message says what failed and, where it can, what to do."""

from __future__ import annotations


class GPUError(Exception):
    """Base of every gpu/ error; `message` is safe to show to a user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
