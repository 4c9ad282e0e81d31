"""The studio's guard through Starlette's test client: every request needs the URL's token, a
loopback Host header and (for changes) no foreign Origin; no path reads a file the server was not
given; the page loads only shipped assets under a strict content security policy."""
# ruff: noqa: F811  (the studio and client fixtures are imported from studio_helpers)

import json

import pytest

pytest.importorskip("starlette.testclient")

from studio_helpers import BASE, HOSTS, TOKEN, P, client, studio  # noqa: E402, F401


def edit(client, target, key, value):
    return client.post(P + "api/params", json={"changes": [{"target": target, "key": key, "value": value}]})


@pytest.mark.parametrize("path", ["/", "/api/state", "/s/", "/s/wrong-token/api/state", f"/s/{TOKEN[:-1]}/api/state",
                                  f"/s/{TOKEN}x/api/state", f"/S/{TOKEN}/api/state", f"/x/{TOKEN}/api/state"])
def test_requests_without_the_token_are_refused(client, path):
    r = client.get(path)
    assert r.status_code == 403 and "token" in r.json()["error"]


def test_the_token_alone_redirects_to_the_page(client):
    r = client.get(f"/s/{TOKEN}", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == P


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1", "127.0.0.1:9999",
                                  "localhost.evil.example:8765", ""])
def test_foreign_host_headers_are_refused(client, host):
    r = client.get(P + "api/state", headers={"host": host})
    assert r.status_code == 403 and "host" in r.json()["error"]


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_loopback_host_names_are_served(client, host):
    assert client.get(P + "api/state", headers={"host": host}).status_code == 200


def test_cross_origin_changes_are_refused(client, studio):
    before = studio.state.version
    r = client.post(P + "api/params", headers={"origin": "http://evil.example"},
                    json={"changes": [{"target": "track0", "key": "fader_db", "value": 0.0}]})
    assert r.status_code == 403 and studio.state.version == before
    assert edit(client, "track0", "fader_db", 0.0, ).status_code == 200  # no Origin (same-origin tools) is fine
    r = client.post(P + "api/save", headers={"origin": BASE})
    assert r.status_code == 200


@pytest.mark.parametrize("path", [
    "static/../../params.json", "static/%2e%2e/%2e%2e/params.json", "static/..%2f..%2fparams.json",
    "static/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt", "static//etc/passwd", "static/%2fetc%2fpasswd",
    "api/audio/loop/..%2f..%2ftracks%2ftrack0.wav", "api/audio/loop/../../tracks/track0.wav",
    "api/audio/full/%2e%2e%2fsecret.wav", "../secret.txt", "%2e%2e/secret.txt", "tracks/track0.wav",
    "static/..\\..\\params.json"])
def test_path_traversal_reads_nothing(client, tmp_path, path):
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    r = client.get(P + path)
    assert r.status_code in (400, 403, 404), (path, r.status_code)
    assert b"TOPSECRET" not in r.content and b"RIFF" not in r.content[:4] and b"mixdown.params" not in r.content


def test_the_page_loads_only_shipped_assets(client):
    page = client.get(P)
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, no absolute URL
    for name in ("main", "api", "controls", "curves", "editing", "eq", "comp", "meters", "player", "specs",
                 "strips", "timeline"):
        js = client.get(P + f"static/js/{name}.js")
        assert js.status_code == 200 and "https://" not in js.text and "http://" not in js.text, name
    assert json.loads(client.get(P + "api/status").content)["version"] == 0
