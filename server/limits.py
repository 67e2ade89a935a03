"""The size limits of what people and clients send, in one place: the models' column sizes,
the API's schemas, the checks in server/values.py and both OpenAPI documents read them here."""

from __future__ import annotations

MAX_NAME_LENGTH = 100  # names of tenants, workspaces, apps, connectors, tokens and users
MAX_DESCRIPTION_LENGTH = 1000
MIN_EMAIL_LENGTH = 3
MAX_EMAIL_LENGTH = 254  # RFC 5321's longest usable address

MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000

MAX_BODY_BYTES = 64 * 1024  # any request body (Flask's MAX_CONTENT_LENGTH)

MAX_JWT_DURATION = 86399  # seconds an AppAuth token may live (Coze's `duration_seconds`)
MAX_SECRET_GRACE_HOURS = 168  # a rotated-away secret keeps working at most this long
MAX_SERVICE_TOKEN_DAYS = 3650
MAX_SERVICE_TOKEN_WORKSPACES = 100
MAX_AUDIT_PAGE = 200  # entries per page of the audit log
