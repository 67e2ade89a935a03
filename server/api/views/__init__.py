"""The management API's handlers, one module per area; importing them registers the routes."""

from server.api.views import apps, connectors, installations, me, subscriptions, tenants

__all__ = ["apps", "connectors", "installations", "me", "subscriptions", "tenants"]
