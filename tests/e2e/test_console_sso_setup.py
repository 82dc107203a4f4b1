"""Single sign-on that is off or cannot reach its provider answers a page with a
stable error id, and never sends the browser anywhere but this site afterwards."""

from __future__ import annotations

from pathlib import Path

from console_helpers import console_client
from live_server import free_port

from conftest import make_world
from custos.service.console_sso.attempts import safe_return_to


def test_without_console_oidc_the_start_page_is_not_found(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path)
    with console_client(world) as client:
        answer = client.get("/console/sso/start", follow_redirects=False)
        callback = client.get("/console/sso/callback?state=x&code=y", follow_redirects=False)
    world.svc.engine.dispose()
    for page in (answer, callback):
        assert page.status_code == 404, page.text
        assert "Error id: not_found" in page.text
        assert "single sign-on is not configured" in page.text


def test_an_unreachable_provider_is_a_clear_page(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        console={
            "oidc": {
                "issuer": nobody,
                "client_id": "custos",
                "client_secret": {"value": "s3cret"},
                "role_mapping": [{"group": "g", "roles": ["requester"], "scope": ["*"]}],
                "allow_insecure_transport": True,
                "timeout_s": 2,
            }
        },
    )
    with console_client(world) as client:
        answer = client.get("/console/sso/start", follow_redirects=False)
    world.svc.engine.dispose()
    assert answer.status_code == 502, answer.text
    assert "Identity provider unavailable" in answer.text
    assert "Error id: sso_provider_unavailable" in answer.text
    assert "discovery document cannot be read" in answer.text


def test_only_paths_on_this_site_are_kept_as_where_to_go_next() -> None:
    assert safe_return_to("/console/cases/c-1?tab=proofs") == "/console/cases/c-1?tab=proofs"
    for elsewhere in (
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\nSet-Cookie: x",
        "/" + "a" * 600,
    ):
        assert safe_return_to(elsewhere) == "/", elsewhere
