"""The one error type whose text is shown to the user as it is."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix (a bad file, an option out of range, a full queue).

    `str()` is a complete sentence, shown in an ephemeral message; nothing was queued.
    """
