"""/metrics: off unless METRICS_ENABLED, bearer-protected by METRICS_TOKEN, the contract's series
moving after a flow, bounded labels, and one sum over every worker, under either server."""

from __future__ import annotations

import os
import re
import threading

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveServer
from tests.oauth_support import JWT_BEARER, assertion, resource_server, service_app

Samples = dict[tuple[str, tuple], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_unless_enabled_and_want_the_token(app, client):
    assert client.get("/metrics").status_code == 404
    app.config.update(METRICS_ENABLED=True, METRICS_TOKEN="scrape-secret-0123456789")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789"})
    assert right.status_code == 200 and right.mimetype == "text/plain"
    app.config["METRICS_TOKEN"] = None  # unset: open, for a private network only
    assert client.get("/metrics").status_code == 200


def test_series_move_after_a_flow(app, client, make_user, make_app, auth_header):
    app.config["METRICS_ENABLED"] = True
    owner = make_user()
    headers = auth_header(owner)
    rs = resource_server(app)
    client_id, kid, pem = service_app(app, owner, make_app)
    web, _ = make_app(owner, "web")
    before = parse(client.get("/metrics").text)

    minted = client.post(
        "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": assertion(client_id, kid, pem, "localhost")},
    )
    assert minted.status_code == 200, minted.text
    token = minted.json["access_token"]
    assert client.post("/oauth/introspect", data={"token": token}, headers=rs).json["active"]
    assert client.post(f"/api/v1/apps/{client_id}/disable", headers=headers).status_code == 200
    assert not client.post("/oauth/introspect", data={"token": token}, headers=rs).json["active"]
    refused = client.post(
        "/api/permission/oauth2/token",
        json={"grant_type": JWT_BEARER},
        headers={"Authorization": "Bearer " + assertion(client_id, kid, pem, "localhost")},
    )
    assert refused.status_code == 403 or refused.json["error_code"] == "access_deny"
    client.get(f"/oauth/authorize?response_type=code&client_id={web.client_id}")
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_TOKEN_CLIENT="1 per minute")
    for _ in range(2):
        last = client.post("/oauth/token", data={"grant_type": "x", "client_id": "flooder"})
    assert last.status_code == 429
    text = client.get("/metrics").text
    after = parse(text)

    def moved(name: str, by: float = 1, **labels: str) -> None:
        delta = value(after, name, **labels) - value(before, name, **labels)
        assert delta >= by, (name, labels, delta)

    moved("oauth_http_requests_total", endpoint="rfc.token", dialect="rfc", status="200")
    moved("oauth_http_requests_total", endpoint="rfc.introspect", dialect="rfc", status="200", by=2)
    moved("oauth_http_requests_total", endpoint="rfc.token", dialect="rfc", status="429")
    moved("oauth_request_duration_seconds_count", operation="token", dialect="rfc", by=3)
    moved("oauth_request_duration_seconds_count", operation="token", dialect="coze")
    moved("oauth_request_duration_seconds_count", operation="introspection", dialect="rfc", by=2)
    moved("oauth_request_duration_seconds_count", operation="authorization", dialect="rfc")
    moved("oauth_tokens_issued_total", grant="jwt-bearer", auth_type="appauth")
    # Introspection of the suspended app's token, then its refused assertion.
    moved("oauth_access_refusals_total", reason="app_disabled", by=2)
    moved("oauth_rate_limit_refusals_total", limit="RATELIMIT_TOKEN_CLIENT")
    moved("oauth_lifecycle_changes_total", kind="app.disable")
    # Bounded labels: no client id, no raw path.
    assert client_id not in text and web.client_id not in text and "flooder" not in text
    assert not re.search(r'endpoint="[^"]*/', text)


@pytest.mark.parametrize("kind", ["granian", "gunicorn"])
def test_one_sum_over_two_workers(base_config, _schema, tmp_path, kind):
    folder = tmp_path / "prometheus"
    server = LiveServer(
        base_config, tmp_path / "s.log", workers=2,
        env={"METRICS_ENABLED": "true", "METRICS_TOKEN": "scrape-0123456789abcdef",
             "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        server=kind,
    )  # fmt: skip
    scrape = {"Authorization": "Bearer scrape-0123456789abcdef"}
    metadata = {"endpoint": "rfc.metadata", "dialect": "rfc", "status": "200"}

    def served() -> float:
        r = requests.get(server.url + "/metrics", headers={**scrape, "Connection": "close"},
                         timeout=10)  # fmt: skip
        return value(parse(r.text), "oauth_http_requests_total", **metadata)

    try:
        before = served()  # the start-up wait called it too

        statuses: list[int] = []

        def hit(n: int) -> None:
            for _ in range(n):
                # A fresh connection each time, so that either worker may take it.
                r = requests.get(server.url + "/.well-known/oauth-authorization-server",
                                 headers={"Connection": "close"}, timeout=10)  # fmt: skip
                statuses.append(r.status_code)

        # Rounds until both workers have served (the kernel, not the test, picks the worker).
        for _ in range(10):
            threads = [threading.Thread(target=hit, args=(10,)) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            pids = {re.sub(r"\D", "", name) for name in os.listdir(folder)}
            if len(pids) >= 2:
                break
        assert len(pids) >= 2, f"only one worker served: {sorted(os.listdir(folder))}"
        assert set(statuses) == {200}
        for _ in range(4):  # whichever worker answers the scrape, the same sum
            assert served() - before == len(statuses)
    finally:
        server.stop()


def test_the_dashboard_charts_only_series_the_server_has():
    import json

    from server import metrics
    from tests.live import ROOT

    ours = {m._name for m in vars(metrics.series()).values()}
    exprs = [t["expr"] for p in json.loads((ROOT / "docs/grafana-dashboard.json").read_text())
             ["panels"] for t in p["targets"]]  # fmt: skip
    used = {re.sub(r"_(total|bucket|count|sum)$", "", name)
            for e in exprs for name in re.findall(r"oauth_[a-z_]+", e)}  # fmt: skip
    assert used and used <= ours, used - ours
    assert used == ours, ours - used  # every series is on the dashboard
