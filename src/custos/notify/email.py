"""Email over SMTP (stdlib ``smtplib``), one connection per message.

Transport security: ``starttls`` upgrades the connection before anything else is
said (and refuses a server that does not offer STARTTLS); ``tls`` speaks TLS from
the first byte; both validate the server certificate and host name against the
system CAs or ``ca_file``. ``none`` is only accepted for a relay on this machine
(checked by the configuration). The AUTH password is read from its
:class:`~custos.config.SecretSource` at each send, never stored on the notifier.

Every SMTP, TLS or network failure becomes :class:`NotificationFailed` whose text
holds the server's status and the host, never the password or the message body.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

from custos.config import ConfigError, SecretSource, SmtpConfig
from custos.notify.base import Message, NotificationFailed

Security = Literal["starttls", "tls", "none"]


class SmtpNotifier:
    """Implements :class:`~custos.notify.base.Notifier` over SMTP."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_address: str,
        security: Security = "starttls",
        username: str | None = None,
        password: SecretSource | None = None,
        ca_file: Path | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.from_address = from_address
        self.security: Security = security
        self.username = username
        self._password = password
        self.ca_file = ca_file
        self.timeout_s = timeout_s
        self._domain = from_address.rpartition("@")[2]
        self._local_hostname = socket.getfqdn()  # the EHLO name; resolved once

    @classmethod
    def from_config(cls, cfg: SmtpConfig) -> SmtpNotifier:
        return cls(
            host=cfg.host,
            port=cfg.effective_port,
            from_address=cfg.from_address,
            security=cfg.security,
            username=cfg.username,
            password=cfg.password,
            ca_file=cfg.ca_file,
            timeout_s=cfg.timeout_s,
        )

    def send(self, message: Message) -> None:
        """Deliver ``message``. Raises NotificationFailed when the relay refuses it,
        authentication fails, TLS cannot be established or the network fails."""
        email = self.compose(message)
        where = f"{self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password.reveal())
                smtp.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotificationFailed(
                f"SMTP authentication as '{self.username}' refused by {where} ({exc.smtp_code})"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotificationFailed(f"{where} refused the recipient") from exc
        except smtplib.SMTPResponseException as exc:
            raise NotificationFailed(f"{where} answered {exc.smtp_code}") from exc
        except smtplib.SMTPException as exc:
            raise NotificationFailed(f"SMTP with {where} failed: {type(exc).__name__}") from exc
        except ssl.SSLError as exc:
            raise NotificationFailed(f"TLS with {where} failed: {exc.reason}") from exc
        except ConfigError as exc:
            raise NotificationFailed(f"the SMTP password is unavailable: {exc.message}") from exc
        except OSError as exc:  # refused, unreachable, timed out, reset
            raise NotificationFailed(f"cannot reach SMTP relay {where}: {exc}") from exc

    def compose(self, message: Message) -> EmailMessage:
        """The MIME message: text part, optional HTML alternative, and headers that
        mark it as automatic (RFC 3834) so auto-responders stay quiet. Raises
        NotificationFailed for a header value that would break the header block."""
        email = EmailMessage()
        try:
            email["From"] = self.from_address
            email["To"] = message.to
            email["Subject"] = message.subject
            email["Date"] = formatdate(usegmt=True)
            email["Message-ID"] = make_msgid(domain=self._domain)
            email["Auto-Submitted"] = "auto-generated"
            email["X-Custos-Kind"] = message.kind
            if message.case_id is not None:
                email["X-Custos-Case"] = message.case_id
            for name, value in message.headers.items():
                email[name] = value
        except ValueError as exc:  # e.g. a CR or LF in a header value
            raise NotificationFailed(f"cannot build the '{message.kind}' message: {exc}") from exc
        email.set_content(message.body)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked; TLS 1.2 or newer."""
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connect(self) -> smtplib.SMTP:
        local = self._local_hostname
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=local,
                timeout=self.timeout_s,
                context=self.tls_context(),
            )
        smtp = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=self.timeout_s)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise NotificationFailed(
                        f"{self.host}:{self.port} offers no STARTTLS; refusing to send in clear"
                    )
                smtp.starttls(context=self.tls_context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp
