"""Sample client apps of the authorization server; each runs against `make run`'s demo."""
