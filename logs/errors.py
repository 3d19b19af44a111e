"""The one error a user can cause in logs/: a filter, search, offset or export they asked for is wrong.

It subclasses ValueError so plain Python callers can treat it as one; `message` is safe to show
as it is and says what to fix, `field` names the offending input. (logs/ imports no other app
of ours, so it cannot raise prompts' `InvalidInput`; callers map this onto theirs.)
"""

from __future__ import annotations


class LogQueryError(ValueError):
    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
