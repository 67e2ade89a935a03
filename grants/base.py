"""What every grant shares: its storage, the clock, and the access rule at each issuance."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

from grants.access import check_standing
from grants.clients import Client
from grants.errors import AccessRefused
from grants.resources import audience
from grants.storage import IssueContext, Storage


class GrantSupport:
    """Mixed into each Authlib grant class; `self.server` is our AuthorizationServer."""

    server: Any
    request: Any

    @cached_property
    def storage(self) -> Storage:
        # A grant object serves one request, as the storage does.
        storage: Storage = self.server.storage
        return storage

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.server.settings
        return settings

    @staticmethod
    def now() -> int:
        return int(time.time())

    def authenticate_token_endpoint_client(self) -> Client:
        # A disabled app is refused before anything is consumed (a code, a refresh token).
        client: Client = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        denial = check_standing(self.storage, client.client_id).denial
        if denial:
            raise AccessRefused(denial, client.name)
        return client

    def enforce_access(
        self,
        context: IssueContext,
        *,
        issued_under: bool = True,
        enterprise_path: bool | None = None,
    ) -> None:
        """The access rule, at issuance: raise AccessRefused unless the app may act now.
        `enterprise_path`: whether a JWT grant came through the enterprise (privileged) path."""
        verdict = check_standing(
            self.storage,
            context.client_id,
            tenant_id=context.tenant_id,
            user_id=context.user_id,
            auth_type=context.auth_type,
            issued_under=(context.installation_id, context.authorization_id)
            if issued_under
            else None,
            enterprise_path=enterprise_path,
            connector_binding=context.connector_binding if issued_under else None,
        )
        if verdict.denial:
            client = self.storage.client(context.client_id)
            raise AccessRefused(verdict.denial, client.name if client else None)
        if not issued_under and verdict.standing is not None and verdict.app is not None:
            installation = verdict.standing.installation
            context.installation_id = installation.id if installation else None
            context.authorization_id = verdict.standing.authorization_id
            context.connector_binding = verdict.app.connector_binding

    def audience(self, granted: list[str] | None) -> list[str]:
        """RFC 8707: the resources the request names, within `granted` (None: no prior grant,
        so they must be registered); all of `granted` when it names none."""
        requested = getattr(self.request, "resources", None) or []
        return audience(requested, granted, self.storage.known_resources)

    def save_issued_token(self, token: dict[str, Any], context: IssueContext) -> None:
        self.storage.save_token(token, context, self.now())
