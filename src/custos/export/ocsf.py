"""Ledger entries as OCSF 1.x events (the mapping table is in ``docs/siem.md``).

:func:`to_ocsf` takes one ledger entry's canonical JSON (``type``, ``time``,
``actor``, ``subject``, ``case``, ``outcome``, ``reason``, ``data``, ``id``) and
returns a plain dict; :func:`encode` turns it into one line of ASCII JSON.

Two guarantees (R-37): a field whose *name* looks like a secret and whose value
is text is dropped, wherever it sits in ``data``; and every string is JSON
encoded with ``ensure_ascii``, so the output holds no control character (a CR or
LF in a reason becomes ``\\n``) and cannot split or forge a log line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import custos

OCSF_VERSION = "1.3.0"

#: Names that suggest a secret. Matched case-insensitively anywhere in a key.
SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|otp|pin\b|^code$|_code$|private|api_?key|cookie"
    r"|authori[sz]ation|bearer|credential|seed|signature",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class OcsfClass:
    uid: int
    name: str
    category_uid: int
    category_name: str


ACCOUNT_CHANGE = OcsfClass(3001, "Account Change", 3, "Identity & Access Management")
AUTHENTICATION = OcsfClass(3002, "Authentication", 3, "Identity & Access Management")
API_ACTIVITY = OcsfClass(6003, "API Activity", 6, "Application Activity")
BASE_EVENT = OcsfClass(0, "Base Event", 0, "Uncategorized")

# (class, activity_id, activity_name) per Custos event type. Types missing here
# fall back by their source prefix (see _PREFIX), then to the Base Event.
_TYPES: dict[str, tuple[OcsfClass, int, str]] = {
    "credential:token:issued": (ACCOUNT_CHANGE, 4, "Password Reset"),
    "credential:temp_password:issued": (ACCOUNT_CHANGE, 4, "Password Reset"),
    "credential:token:redeemed": (ACCOUNT_CHANGE, 3, "Password Change"),
    "credential:password:rejected": (ACCOUNT_CHANGE, 3, "Password Change"),
    "credential:token:rejected": (ACCOUNT_CHANGE, 99, "Reset Token Rejected"),
    "credential:token:voided": (ACCOUNT_CHANGE, 99, "Reset Token Voided"),
    "credential:secret:wiped": (ACCOUNT_CHANGE, 99, "Sealed Secret Wiped"),
    "propagation:receipt:attempted": (ACCOUNT_CHANGE, 4, "Password Reset"),
    "propagation:receipt:succeeded": (ACCOUNT_CHANGE, 4, "Password Reset"),
    "propagation:receipt:failed": (ACCOUNT_CHANGE, 4, "Password Reset"),
    "proofing:subject:throttled": (ACCOUNT_CHANGE, 9, "Lock"),
    "credential:authenticator_lock:reset": (ACCOUNT_CHANGE, 12, "Unlock"),
    "credential:authenticator_lock:kept": (ACCOUNT_CHANGE, 99, "Lock Kept"),
    "admin:operator:created": (ACCOUNT_CHANGE, 1, "Create"),
    "admin:operator:token_rotated": (ACCOUNT_CHANGE, 99, "API Token Rotated"),
    "admin:operator:token_revoked": (ACCOUNT_CHANGE, 99, "API Token Revoked"),
    "admin:operator:password_set": (ACCOUNT_CHANGE, 3, "Password Change"),
    "admin:operator:disabled": (ACCOUNT_CHANGE, 5, "Disable"),
    "admin:operator:enabled": (ACCOUNT_CHANGE, 2, "Enable"),
    "admin:operator:roles_changed": (ACCOUNT_CHANGE, 7, "Attach Policy"),
    "auth:operator:signed_in": (AUTHENTICATION, 1, "Logon"),
    "auth:operator:sign_in_failed": (AUTHENTICATION, 1, "Logon"),
    "auth:operator:session_ended": (AUTHENTICATION, 2, "Logoff"),
    "auth:operator:second_factor_bound": (ACCOUNT_CHANGE, 10, "MFA Factor Enable"),
    "admin:operator:second_factor_reset": (ACCOUNT_CHANGE, 11, "MFA Factor Disable"),
    "admin:operator:link_issued": (ACCOUNT_CHANGE, 99, "One-Time Link Issued"),
    "proofing:case:attempted": (AUTHENTICATION, 99, "Identity Proofing"),
    "proofing:recovery_code:used": (AUTHENTICATION, 99, "Identity Proofing"),
    "proofing:case:satisfied": (AUTHENTICATION, 99, "Identity Proofing Satisfied"),
    "case:case:opened": (API_ACTIVITY, 1, "Create"),
    "case:approval:granted": (API_ACTIVITY, 3, "Update"),
    "case:case:state_changed": (API_ACTIVITY, 3, "Update"),
    "case:case:validated": (API_ACTIVITY, 3, "Update"),
    "risk:case:assessed": (API_ACTIVITY, 3, "Update"),
    "policy:case:tier_selected": (API_ACTIVITY, 3, "Update"),
    "admin:ssf_stream:created": (API_ACTIVITY, 1, "Create"),
    "admin:ssf_stream:updated": (API_ACTIVITY, 3, "Update"),
    "admin:ssf_stream:status_changed": (API_ACTIVITY, 3, "Update"),
    "admin:ssf_stream:deleted": (API_ACTIVITY, 4, "Delete"),
    "admin:ssf_stream:verification_requested": (API_ACTIVITY, 99, "Stream Verification"),
    "admin:ssf_key:rotated": (API_ACTIVITY, 99, "Signing Key Rotated"),
    "admin:ssf_key:retired": (API_ACTIVITY, 99, "Signing Key Retired"),
    "ssf:set:delivered": (API_ACTIVITY, 99, "Security Event Delivered"),
    "ssf:set:failed": (API_ACTIVITY, 99, "Security Event Delivery Failed"),
    # A hold blocks every recovery of the account until another person lifts it.
    "governance:hold:set": (ACCOUNT_CHANGE, 99, "Recovery Hold Set"),
    "governance:hold:lifted": (ACCOUNT_CHANGE, 99, "Recovery Hold Lifted"),
    "governance:hold:lift_refused": (ACCOUNT_CHANGE, 99, "Recovery Hold Lift Refused"),
    "governance:hold:expired": (ACCOUNT_CHANGE, 99, "Recovery Hold Ended"),
    # Shared accounts: a non-owner's request refused; per-owner links.
    "case:shared_account:request_refused": (ACCOUNT_CHANGE, 99, "Shared Account Request Refused"),
    "credential:owner_link:issued": (ACCOUNT_CHANGE, 99, "Owner Links Issued"),
    "credential:owner_link:redeemed": (ACCOUNT_CHANGE, 99, "Owner Link Redeemed"),
    "credential:tap:issued": (ACCOUNT_CHANGE, 99, "Temporary Access Pass Issued"),
    "credential:tap:retrieved": (ACCOUNT_CHANGE, 99, "Temporary Access Pass Retrieved"),
    "credential:tap:retrieval_refused": (ACCOUNT_CHANGE, 99, "Temporary Access Pass Refused"),
    "credential:tap:deleted": (ACCOUNT_CHANGE, 99, "Temporary Access Pass Deleted"),
    # Service accounts: rotation, grace periods, owner transfer.
    "service:rotation:refused": (ACCOUNT_CHANGE, 99, "Service Rotation Refused"),
    "service:rotation:due": (ACCOUNT_CHANGE, 99, "Service Rotation Due"),
    "service:secret:issued": (ACCOUNT_CHANGE, 99, "Service Secret Generated"),
    "service:secret:retrieved": (ACCOUNT_CHANGE, 99, "Service Secret Retrieved"),
    "service:secret:retrieval_refused": (ACCOUNT_CHANGE, 99, "Service Secret Retrieval Refused"),
    "service:secret:lapsed": (ACCOUNT_CHANGE, 99, "Service Secret Link Lapsed"),
    "service:credential:grace_started": (ACCOUNT_CHANGE, 99, "Old Credential Kept"),
    "service:credential:replaced_at_once": (ACCOUNT_CHANGE, 99, "Old Credential Replaced"),
    "service:credential:old_revoked": (ACCOUNT_CHANGE, 99, "Old Credential Revoked"),
    "service:credential:revoke_failed": (ACCOUNT_CHANGE, 99, "Old Credential Revoke Failed"),
    "service:owner:transferred": (ACCOUNT_CHANGE, 99, "Service Owner Transferred"),
    "service:credential:interactive_use": (
        ACCOUNT_CHANGE,
        99,
        "Service Credential Used Interactively",
    ),
}
_PREFIX: dict[str, tuple[OcsfClass, int, str]] = {
    "credential": (ACCOUNT_CHANGE, 99, "Other"),
    "propagation": (ACCOUNT_CHANGE, 99, "Other"),
    "proofing": (AUTHENTICATION, 99, "Other"),
    "case": (API_ACTIVITY, 3, "Update"),
}
_GENERIC = (BASE_EVENT, 99, "Other")

_STATUS = {"success": (1, "Success"), "failure": (2, "Failure"), "denied": (2, "Failure")}
# Severity: informational for successes; failures and denials of authentication
# or credential changes matter more to a SOC than other failures; a lock is high.
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}


def classify(event_type: str) -> tuple[OcsfClass, int, str]:
    """The OCSF class, activity id and activity name for a Custos event type."""
    if event_type in _TYPES:
        return _TYPES[event_type]
    return _PREFIX.get(event_type.split(":", 1)[0], _GENERIC)


def _severity(ocsf: OcsfClass, activity_id: int, outcome: str) -> int:
    if ocsf is ACCOUNT_CHANGE and activity_id == 9:
        return 4
    if outcome == "success":
        return 1
    return 3 if ocsf in (AUTHENTICATION, ACCOUNT_CHANGE) else 2


def strip_secrets(value: Any) -> Any:
    """A copy of ``value`` without any text field whose name looks like a secret
    (numbers and booleans such as ``voided_other_tokens: 2`` stay)."""
    if isinstance(value, Mapping):
        return {
            str(k): strip_secrets(v)
            for k, v in value.items()
            if not (SECRET_NAME.search(str(k)) and isinstance(v, str | bytes | list | dict))
        }
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def _principal(actor: str | None) -> dict[str, Any]:
    """``operator:ID`` / ``subject:ID`` / ``system:NAME`` as an OCSF user."""
    kind, _, uid = (actor or "unknown:").partition(":")
    type_name = {"operator": "Admin", "subject": "User", "system": "System"}.get(kind, "Other")
    type_id = {"User": 1, "Admin": 2, "System": 3}.get(type_name, 99)
    return {"uid": actor or "", "name": uid or actor or "", "type": type_name, "type_id": type_id}


def _epoch_ms(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return int(moment.timestamp() * 1000)


def to_ocsf(entry: Mapping[str, Any], *, seq: int | None = None) -> dict[str, Any]:
    """Map one ledger entry (its canonical JSON, parsed) to an OCSF event dict.
    ``metadata.uid`` is the ledger event id, stable across redeliveries, so a
    receiver can de-duplicate. Raises KeyError when ``type``, ``time`` or ``id``
    is missing (the ledger always has them)."""
    event_type = str(entry["type"])
    ocsf, activity_id, activity_name = classify(event_type)
    outcome = str(entry.get("outcome", "success"))
    status_id, status = _STATUS.get(outcome, (99, "Other"))
    severity_id = _severity(ocsf, activity_id, outcome)
    reason = str(entry.get("reason") or "")
    data = strip_secrets(dict(entry.get("data") or {}))
    subject = entry.get("subject")
    case_id = entry.get("case")
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {"name": "Custos", "vendor_name": "Custos", "version": custos.__version__},
        "uid": str(entry["id"]),
        "original_time": str(entry["time"]),
        "event_code": event_type,
        "log_name": "ledger",
        "log_provider": str(entry.get("source") or "custos"),
    }
    if case_id:
        metadata["correlation_uid"] = str(case_id)
    if seq is not None:
        metadata["sequence"] = seq
    event: dict[str, Any] = {
        "class_uid": ocsf.uid,
        "class_name": ocsf.name,
        "category_uid": ocsf.category_uid,
        "category_name": ocsf.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": ocsf.uid * 100 + activity_id,
        "type_name": f"{ocsf.name}: {activity_name}",
        "time": _epoch_ms(str(entry["time"])),
        "severity_id": severity_id,
        "severity": _SEVERITY_NAMES[severity_id],
        "status_id": status_id,
        "status": status,
        "status_code": outcome,
        "message": f"{event_type}: {reason}" if reason else event_type,
        "metadata": metadata,
        "actor": {"user": _principal(entry.get("actor"))},
        "unmapped": {"custos": {"type": event_type, "case": case_id, "data": data}},
    }
    if reason:
        event["status_detail"] = reason
    if subject:
        event["user"] = {"uid": str(subject), "name": str(subject)}
    if ocsf is API_ACTIVITY:
        event["api"] = {"operation": event_type, "service": {"name": "Custos"}}
        event["src_endpoint"] = {"svc_name": "custos"}
        if case_id:
            event["resources"] = [{"type": "recovery_case", "uid": str(case_id)}]
    if ocsf is AUTHENTICATION:
        method = data.get("method")
        if isinstance(method, str):
            event["auth_protocol"] = method
            event["auth_protocol_id"] = 99
    return event


def encode(event: Mapping[str, Any]) -> str:
    """One line of ASCII JSON: control and non-ASCII characters are escaped,
    so the text is safe in a syslog MSG or any line-oriented log."""
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
