"""Domain exceptions of the core. The edges map them to exit codes and HTTP statuses."""

from __future__ import annotations


class MatchingError(Exception):
    """Base class of every error the core raises on purpose."""


class FieldError(MatchingError, ValueError):
    """A value that a field does not allow.

    Attributes:
        field: the field's name as the user wrote it (column, JSON key or CLI option).
        value: the offending value, as given.
        reason: what is wrong and what is allowed.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {_show(value)}: {reason}")

    def as_dict(self) -> dict[str, str]:
        """A JSON-friendly form (used by import reports and API error bodies)."""
        return {"field": self.field, "value": _show(self.value), "reason": self.reason}


class ArtifactError(MatchingError):
    """A saved artifact (encoder, index, model) that is missing, corrupt or does not match the code."""


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 120 else text[:117] + "..."
