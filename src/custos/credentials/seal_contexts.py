"""The associated data (AAD) that binds each kind of sealed value to its row:
a blob opens only in the context it was sealed for (``credentials.sealed``).

One function per kind, used by the code that seals and opens the value and by
the sealing-key rotation (``store.sealed_inventory``), which must rebuild the
same context from the row to open and re-seal it.
"""

from __future__ import annotations


def case_secret(case_id: str) -> str:
    """The new password of a case, held until its last receipt is final."""
    return case_id


def temporary_access_pass(case_id: str, row_id: int) -> str:
    """A Temporary Access Pass Entra ID made for a reissue's subject, bound to
    its case and row, until the subject opens the one-time link or it lapses."""
    return f"tap:{case_id}:{row_id}"


def owner_link(link_id: int) -> str:
    """A shared account's new credential as one owner's link holds it, until
    that owner opens the link or it lapses."""
    return f"owner-link:{link_id}"


def subject_totp(subject_id: str) -> str:
    """A subject's enrolled TOTP secret."""
    return f"totp:{subject_id}"


def subject_pending_totp(subject_id: str) -> str:
    """A subject's TOTP secret shown once and not yet confirmed by a code."""
    return f"totp-pending:{subject_id}"


def operator_totp(operator_id: str) -> str:
    """An operator's enrolled TOTP secret."""
    return f"operator-totp:{operator_id}"


def operator_pending_totp(operator_id: str) -> str:
    """An operator's TOTP secret being enrolled during a sign-in."""
    return f"operator-totp-pending:{operator_id}"


def notice(row_id: str) -> str:
    """A message waiting in the notice outbox."""
    return f"outbox:{row_id}"


def set_outbox(row_id: str) -> str:
    """A Security Event Token waiting in the SET outbox."""
    return f"ssf-set:{row_id}"


def stream_authorization(stream_id: str) -> str:
    """The push ``Authorization`` value of a shared-signals stream."""
    return f"ssf-stream:{stream_id}"


def service_secret(case_id: str) -> str:
    """A rotated service-account secret waiting for its owner's one-time retrieval."""
    return f"service-rotation:{case_id}"
