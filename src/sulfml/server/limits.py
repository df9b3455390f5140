"""The server's limits and its errors, in a module light enough for `sulfml --help` to import."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sulfml.errors import InputError, UserError


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each is refused with a message saying which limit and how far over.

    Attributes:
        max_body_bytes: size of a request body (pasted formulas, an uploaded file).
        max_rows: rows predicted in one request.
        max_screen: candidates one screen may enumerate (counted before any is predicted).
        max_top: candidates a screen may list.
        concurrent: requests predicting at the same time; more wait their turn (bounds memory and keeps
            two cores responsive), they are not refused.
    """

    max_body_bytes: int = 5 * 1024 * 1024
    max_rows: int = 5000
    max_screen: int = 5000
    max_top: int = 200
    concurrent: int = 4

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"the server limit {name} must be a whole number of at least 1, got {value!r}")


class LimitError(InputError):
    """A request over one of the server's `Limits` (HTTP 413 for the body, 422 for the rest)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class ServeError(UserError):
    """The server cannot start: the address cannot be bound (in use, not this machine's, no permission)."""
