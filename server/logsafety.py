"""Credentials never reach the logs, whatever level an operator turns logging up to.

Authlib logs every issued token at DEBUG ("Issue token {...}"), so its loggers stay at INFO.
And as a second line, every record's message is scanned for our credential shapes (a type
prefix and 20+ random characters) and those are masked before any handler sees them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask

# The prefixes of grants/secrets.py: access, service, refresh, device, code, client secret,
# personal access token, service access token, resource server secret.
CREDENTIAL = re.compile(r"\b(czu|czs|czr|czd|code|cs|pat|sat|rss)_[A-Za-z0-9_-]{20,}")
_installed = False


def redact(text: str) -> str:
    return CREDENTIAL.sub(lambda m: m.group(1) + "_[redacted]", text)


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error reporting
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)


def init_app(app: Flask) -> None:
    global _installed
    logging.getLogger("authlib").setLevel(logging.INFO)
    if not _installed:
        _install_record_factory()
        _installed = True
