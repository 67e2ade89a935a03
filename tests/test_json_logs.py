"""LOG_FORMAT=json: every line a server process writes parses as one JSON object; the request
line carries the request id, method, path, status and duration; no credential appears."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from server.logformat import MaskedJsonFormatter, RequestFields
from tests.conftest import PASSWORD
from tests.live import LiveServer
from tests.oauth_support import (
    Browser,
    authorize_url,
    basic,
    code_form,
    query,
    resource_server,
)
from tests.test_log_secrets import _assert_absent, _credentials_in

# The server's own lines, by logger: Granian's (serve.py) and gunicorn's (gunicorn.conf.py).
SERVERS = {"granian": "_granian", "gunicorn": "gunicorn"}


@pytest.mark.parametrize("kind", SERVERS)
def test_json_lines_from_a_server_process(
    app, base_config, _schema, make_user, make_app, tmp_path, kind
):
    server = LiveServer(
        base_config, tmp_path / "s.log", workers=1, env={"LOG_FORMAT": "json"}, server=kind
    )
    try:
        owner = make_user()
        rs = resource_server(app)
        web, secret = make_app(owner, "web")
        found = [secret, rs["Authorization"].split()[1], PASSWORD]
        browser = Browser(base_url=server.url)
        browser.login(owner.email, PASSWORD)
        code = query(browser.authorize(authorize_url(web.client_id)))["code"]
        found.append(code)
        exchanged = requests.post(
            server.url + "/oauth/token",
            data=code_form(code),
            headers={**basic(web.client_id, secret), "X-Request-Id": "trace-me-0001"},
            timeout=10,
        )
        tokens = exchanged.json()
        found += _credentials_in(tokens)
        for token in (tokens["access_token"], tokens["refresh_token"]):
            requests.post(server.url + "/oauth/introspect", data={"token": token}, headers=rs,
                          timeout=10)  # fmt: skip
        requests.get(f"{server.url}/device?user_code={code}", timeout=10)
        requests.get(server.url + "/readyz", timeout=10)
    finally:
        server.stop()
    text = (tmp_path / "s.log").read_text()
    records = []
    for line in text.splitlines():
        if line.strip():
            records.append(json.loads(line))  # every line: the server's and the app's
    requests_logged = [r for r in records if r["logger"] == "server.requests"]
    token_line = next(r for r in requests_logged if r.get("request_id") == "trace-me-0001")
    assert token_line["method"] == "POST" and token_line["path"] == "/oauth/token"
    assert token_line["status"] == 200 and isinstance(token_line["duration_ms"], float)
    assert token_line["level"] == "INFO" and token_line["time"]
    assert token_line["message"].startswith("POST /oauth/token 200")
    assert any(r["path"] == "/device" for r in requests_logged)  # without its query string
    assert not any(r["path"] == "/readyz" for r in requests_logged)  # probes: below INFO
    assert any(r["logger"].startswith(SERVERS[kind]) for r in records)
    _assert_absent(text, found + [PASSWORD] * 12)


def test_json_formatter_masks_fields_too():
    formatter = MaskedJsonFormatter()
    token = "czu_" + "A" * 30
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "saw %s", (token,), None)
    record.detail = {"token": token}
    assert RequestFields().filter(record)  # outside a request: adds nothing, keeps the line
    line = json.loads(formatter.format(record))
    assert token not in json.dumps(line)
    assert line["message"] == "saw czu_[redacted]" and line["level"] == "WARNING"
    assert "request_id" not in line
