"""Errors whose message is meant for the user: the CLI prints it on one line and exits with status 2."""

from __future__ import annotations


class UserFacingError(ValueError):
    """Bad input, a damaged or tampered file, an unusable store: the message says what and why."""
