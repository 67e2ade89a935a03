"""A command-line app signing its user in with the device flow (RFC 8628): prints where to go
and the code to enter, then polls the token endpoint at the pace the server asks, slowing
down when told (slow_down), until the user approves, denies or the code expires.

    python -m examples.device_cli.device
"""

from __future__ import annotations

import sys
import time

import requests

from examples.demo import setting

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def sign_in(server: str, client_id: str, scope: str) -> dict:
    started = requests.post(
        server + "/oauth/device_authorization",
        data={"client_id": client_id, "scope": scope},
        timeout=10,
    )
    started.raise_for_status()
    grant = started.json()
    print(f"To sign in, open {grant['verification_uri']}", flush=True)
    print(f"and enter the code {grant['user_code']}", flush=True)
    interval = grant.get("interval", 5)
    deadline = time.monotonic() + grant["expires_in"]
    while time.monotonic() < deadline:
        time.sleep(interval)
        answer = requests.post(
            server + "/oauth/token",
            data={"grant_type": DEVICE_CODE, "device_code": grant["device_code"]}
            | {"client_id": client_id},
            timeout=10,
        )
        body = answer.json()
        error = body.get("error")
        if answer.ok:
            return body
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5  # RFC 8628 §3.5: every slow_down adds five seconds, for good
            print(f"(the server asked to slow down: polling every {interval} s)", flush=True)
            continue
        raise SystemExit(f"sign-in ended: {error}: {body.get('error_description', '')}")
    raise SystemExit("sign-in ended: the code expired")


def main() -> None:
    server = setting("OAUTH_SERVER", "url", default="http://127.0.0.1:5000")
    client_id = setting("CLIENT_ID", "apps", "device", "client_id")
    token = sign_in(server, client_id, setting("SCOPE", default="Bot.read"))
    print(f"Signed in: scope {token.get('scope', '')!r}, expires in {token['expires_in']} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
