"""The management API's handlers, one module per area; importing them registers the routes."""

from server.api.views import apps, installations, me, subscriptions, tenants

__all__ = ["apps", "installations", "me", "subscriptions", "tenants"]
