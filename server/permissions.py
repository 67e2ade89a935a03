"""The permission catalogue: every name an app may ask for, with what it lets the app do."""

from __future__ import annotations

from grants.vocabulary import AppKind
from server.errors import DomainError, Msg

# Names follow Coze's `Resource.action` style; the descriptions are shown on the consent page.
CATALOGUE: dict[str, str] = {
    "Bot.read": "Read the agents (bots) in a workspace and their settings",
    "Bot.create": "Create agents (bots) in a workspace",
    "Bot.edit": "Change the settings of agents (bots)",
    "Bot.publish": "Publish agents (bots) to connectors",
    "Connector.botChat": "Chat with published agents (bots) through the API connector",
    "Conversation.create": "Start conversations with agents",
    "Conversation.read": "Read conversations and their history",
    "Conversation.delete": "Delete conversations",
    "Message.create": "Add messages to conversations",
    "Message.read": "Read the messages of conversations",
    "Workflow.read": "Read workflows and their definitions",
    "Workflow.run": "Run workflows and read their results",
    "File.upload": "Upload files for agents and workflows to use",
    "File.read": "Read uploaded files and their metadata",
    "Dataset.read": "Read knowledge bases and their documents",
    "Dataset.create": "Create knowledge bases",
    "Dataset.edit": "Add, change and remove documents in knowledge bases",
    "Dataset.delete": "Delete knowledge bases",
    "Workspace.read": "List workspaces and read their details",
    "Workspace.members": "List the members of workspaces",
    "Audio.speech": "Turn text into speech",
    "Audio.transcribe": "Turn speech into text",
    "Variable.read": "Read agent and workflow variables",
    "Variable.edit": "Change agent and workflow variables",
}

# Enterprise administration, granted only to enterprise-privileged apps (and never to the others).
PRIVILEGED_CATALOGUE: dict[str, str] = {
    "Enterprise.members.read": "List the enterprise's members and their roles",
    "Enterprise.members.manage": "Invite, remove and change the roles of the enterprise's members",
    "Enterprise.billing.read": "Read the enterprise's bills, balance and usage",
    "Enterprise.organization.read": "Read the enterprise's organisations and their settings",
    "Enterprise.organization.manage": "Create and change the enterprise's organisations",
    "Enterprise.workspaces.manage": "Create, change and archive workspaces and their members",
}

NAMES: tuple[str, ...] = tuple(CATALOGUE)
ALL_NAMES: tuple[str, ...] = NAMES + tuple(PRIVILEGED_CATALOGUE)


def catalogue_for(app_kind: str) -> dict[str, str]:
    return PRIVILEGED_CATALOGUE if app_kind == AppKind.PRIVILEGED else CATALOGUE


def validate(names: list[str], app_kind: str = AppKind.NORMAL) -> list[str]:
    """The given permission names, deduplicated in order; names outside the catalogue of the
    app's kind (privileged apps have their own) are a 422."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DomainError(422, "invalid_value", "permissions must be a list of names")
    catalogue = catalogue_for(app_kind)
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        which = "privileged apps" if app_kind == AppKind.PRIVILEGED else "this kind of app"
        if unknown[0] in ALL_NAMES:
            message = f"permission {unknown[0]!r} is not available to {which}"
            text = Msg("Permission %(name)s is not available to this kind of app.", name=unknown[0])
        else:
            message = f"unknown permission {unknown[0][:64]!r}; see /permissions"
            text = Msg("Unknown permission %(name)s.", name=unknown[0][:64])
        raise DomainError(422, "invalid_permission", message, field="permissions", text=text)
    return list(dict.fromkeys(names))
