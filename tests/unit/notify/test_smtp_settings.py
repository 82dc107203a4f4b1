"""The ``smtp`` settings section and the notifier bootstrap picks from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from custos.config import ConfigError, load_settings
from custos.credentials.keys import MasterKey
from custos.notify.email import SmtpNotifier
from custos.notify.outbox import OutboxNotifier

SMTP = {
    "host": "smtp.example.org",
    "username": "custos",
    "password": {"env": "CUSTOS_TEST_SMTP_PASSWORD"},
    "from_address": "custos@example.org",
}


def test_smtp_defaults_to_starttls_on_port_587(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, smtp=SMTP)
    assert settings.smtp is not None
    assert settings.smtp.security == "starttls" and settings.smtp.effective_port == 587


def test_smtp_without_encryption_is_refused_for_a_remote_host(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only allowed for a relay"):
        load_settings(None, data_dir=tmp_path, smtp={**SMTP, "security": "none"})


def test_smtp_without_encryption_is_accepted_on_loopback(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        data_dir=tmp_path,
        smtp={"host": "127.0.0.1", "security": "none", "from_address": "c@example.org"},
    )
    assert settings.smtp is not None and settings.smtp.effective_port == 25


def test_smtp_username_without_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="together"):
        load_settings(None, data_dir=tmp_path, smtp={**SMTP, "password": None})


def test_security_address_must_be_an_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="security_address"):
        load_settings(None, data_dir=tmp_path, security_address="not an address")


def test_bootstrap_picks_smtp_when_configured_else_the_outbox(tmp_path: Path) -> None:
    from custos.bootstrap import bootstrap

    common = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'c.db'}",
        "sealing_key": MasterKey.generate().to_b64(),
    }
    with_smtp = bootstrap(load_settings(None, smtp=SMTP, **common))
    assert isinstance(with_smtp.notifier, SmtpNotifier)
    assert with_smtp.notifier.host == "smtp.example.org" and with_smtp.notifier.port == 587
    without = bootstrap(load_settings(None, **common))
    assert isinstance(without.notifier, OutboxNotifier)
    with_smtp.engine.dispose()
    without.engine.dispose()
