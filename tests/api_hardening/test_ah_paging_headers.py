"""Huge or negative paging values are 422 (never 500), and every response carries the security headers."""

from __future__ import annotations

import re

import pytest

from tests.api_hardening.ah_helpers import ADMIN, MEDIC, OHS, auth, hub_client

LISTS = [("/api/v1/exams", OHS), ("/api/v1/dead-letters", ADMIN), ("/api/v1/audit", ADMIN),
         ("/api/v1/medic/decisions", MEDIC), ("/api/v1/analytics/alarms", OHS)]
BAD = ["9223372036854775808", "18446744073709551616", str(10**30), "-1"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with hub_client(tmp_path_factory.mktemp("paging")) as (test_client, _):
        yield test_client


@pytest.mark.parametrize("path,token", LISTS)
def test_huge_and_negative_paging_values_are_422(client, path, token):
    assert client.get(path, headers=auth(token)).status_code == 200
    for value in BAD:
        for name in ("offset", "limit"):
            response = client.get(path, params={name: value}, headers=auth(token))
            assert response.status_code == 422, (path, name, value, response.text)
            assert response.json()["detail"][0]["loc"] == ["query", name]


def test_huge_ids_in_paths_are_422(client):
    response = client.post("/api/v1/risk-groups/assessments/9223372036854775808/decision",
                           json={"decision": "confirmed"}, headers=auth(MEDIC))
    assert response.status_code == 422


SECURITY = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.mark.parametrize("path", ["/", "/medic", "/docs", "/static/dashboard.js", "/static/swagger-init.js",
                                  "/vendor/swagger/swagger-ui-bundle.js", "/openapi.json", "/api/v1/health",
                                  "/api/v1/exams", "/api/v1/no-such-thing"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path, headers=auth(OHS))
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (path, name)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert ("no-store" in response.headers.get("cache-control", "")) == path.startswith("/api/")


def test_api_errors_are_not_cached_either(client):
    for response in (client.get("/api/v1/dead-letters", headers=auth(OHS)),  # 403
                     client.get("/api/v1/exams", params={"offset": "-1"}, headers=auth(OHS)),  # 422
                     client.post("/api/v1/models/rt", json={}, headers=auth(OHS))):  # 422
        assert response.status_code in (403, 422) and response.headers["cache-control"] == "no-store"


def test_pages_need_no_inline_script(client):
    for path in ("/", "/medic", "/docs"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"{path} has an inline script"
        assert not re.search(r"\son[a-z]+=", html), f"{path} has an inline event handler"
        for src in re.findall(r'(?:src|href)="(/[^"]+)"', html):
            assert client.get(src).status_code == 200, f"{path} loads {src}"
    assert "SwaggerUIBundle" in client.get("/static/swagger-init.js").text
