"""The permission catalogue: every name an app may ask for, with what it lets the app do."""

from __future__ import annotations

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

NAMES: tuple[str, ...] = tuple(CATALOGUE)


def validate(names: list[str]) -> list[str]:
    """The given permission names, deduplicated in order; unknown names are a 422."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DomainError(422, "invalid_value", "permissions must be a list of names")
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise DomainError(
            422,
            "invalid_permission",
            f"unknown permission {unknown[0][:64]!r}; see /permissions",
            field="permissions",
            text=Msg("Unknown permission %(name)s.", name=unknown[0][:64]),
        )
    return list(dict.fromkeys(names))
