"""The domain's one error type: a status, a stable code and a message safe to show a person."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str = "resource") -> DomainError:
    return DomainError(404, "not_found", f"{what} not found")


def forbidden(message: str = "your role in this tenant does not allow this") -> DomainError:
    return DomainError(403, "forbidden", message)
