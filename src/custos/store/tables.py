"""Table definitions of the store (SQLAlchemy Core). The Alembic migrations
under ``store/migrations`` create exactly these and the built-in directory's
own (``connectors/builtin_tables.py``); ``custos.store.schema`` gathers both and
``tests/integration/store`` checks that migrations and tables agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from custos.store.metadata import metadata
from custos.store.metadata import timestamp as _ts

subjects = Table(
    "subjects",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("display_name", String(300), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("employment", String(20), nullable=False),
    Column("privileged", Boolean, nullable=False, default=False),
    Column("groups", JSON, nullable=False),
    Column("manager", String(200)),
    Column("sponsor", String(200)),
    Column("owner", String(200)),
    # Every owner of a shared or service account, ``owner`` first (0019).
    Column("owners", JSON),
    # Contacts live in subject_contacts (0006); holds in holds (0017).
    # Kept for the previous release, which reads it while an upgrade rolls
    # (expand then contract, docs/operations.md "Upgrades"); this release never
    # reads it and writes [] for a new subject. A later release drops it.
    Column("holds", JSON, nullable=False, default=list),
    Column("mfa_bound", Boolean, nullable=False, default=False),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    _ts("created_at", nullable=False),
    # The IAL the subject was proofed at; re-proofing must reach it.
    Column("ial", Integer, nullable=False, default=1, server_default="1"),
    # From the directories through the attribute mapping (0011).
    _ts("contract_end"),
    Column("employee_id", String(200)),
    Column("attribute_sources", JSON),
    # the next sign-in must bind a phishing-resistant authenticator (0011).
    Column(
        "phishing_resistant_bind_due",
        Boolean,
        nullable=False,
        default=False,
        server_default=false(),
    ),
)

linked_accounts = Table(
    "linked_accounts",
    metadata,
    Column("target", String(100), primary_key=True),
    Column("account_id", String(300), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
)

operators = Table(
    "operators",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("person", String(200), nullable=False, unique=True),
    Column("roles", JSON, nullable=False),
    Column("scope", JSON, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # The API token's SHA-256; None: no token (never issued, or revoked) (0016).
    Column("token_digest", String(64), unique=True),
    _ts("created_at", nullable=False),
    # When the API token stops working; None: never (0016).
    _ts("token_expires_at"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("channel", String(30), nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(30), nullable=False, index=True),
    _ts("opened_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("expires_at", nullable=False),
    Column("tier", String(100), nullable=False),
    Column("policy_hash", String(80), nullable=False),
    Column("requirements", JSON, nullable=False),
    Column("risk_score", Integer, nullable=False),
    Column("risk_band", String(30), nullable=False),
    Column("risk_reasons", JSON, nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requester_person", String(200)),
    Column("executed_by", String(200)),
    Column("executor_person", String(200)),
    _ts("executed_at"),
    Column("validated_by", String(200)),
    _ts("validated_at"),
    Column("outcome_reason", Text, nullable=False, default=""),
    Column("source_address", String(64)),
    Column("version", Integer, nullable=False, default=0),
    # The state a hold blocked the case in, and when: it goes back there when
    # the last hold ends (0017).
    Column("held_from", String(30)),
    _ts("held_at"),
    # The owner a shared account's case was asked for by the help desk (0023).
    Column("on_behalf_of", String(200)),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("operator_id", String(64), nullable=False),
    Column("person", String(200), nullable=False),
    _ts("decided_at", nullable=False),
    Column("reason", Text, nullable=False),
    # One person counts once in a quorum, even when racing from two processes.
    UniqueConstraint("case_id", "person", name="uq_approvals_case_person"),
)

proofs = Table(
    "proofs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("method", String(50), nullable=False),
    Column("passed", Boolean, nullable=False),
    _ts("at", nullable=False),
    Column("actor", String(200), nullable=False),
    Column("phishing_resistant", Boolean, nullable=False, default=False),
)

reset_tokens = Table(
    "reset_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("subject_id", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("consumed_at"),
    _ts("voided_at"),
    Column("void_reason", String(200)),
    # At most one live token per subject, held by the database across processes.
    Index(
        "uq_reset_tokens_live_subject",
        "subject_id",
        unique=True,
        sqlite_where=text("consumed_at IS NULL AND voided_at IS NULL"),
        postgresql_where=text("consumed_at IS NULL AND voided_at IS NULL"),
    ),
)

sealed_secrets = Table(
    "sealed_secrets",
    metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("blob", LargeBinary, nullable=False),
    Column("must_change", Boolean, nullable=False, default=False),
    _ts("sealed_at", nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("target", String(100), nullable=False),
    Column("account_id", String(300), nullable=False),
    Column("required", Boolean, nullable=False, default=True),
    Column("state", String(30), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    _ts("next_attempt_at", nullable=False),
    Column("lease_owner", String(100)),
    _ts("lease_until"),
    Column("last_error", Text),
    Column("answer", Text),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("succeeded_at"),
    UniqueConstraint("case_id", "target", "account_id", name="uq_receipts_case_account"),
)

checks = Table(
    "checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("name", String(50), nullable=False),
    Column("target", String(100), nullable=False),
    Column("account_id", String(300), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    _ts("at", nullable=False),
    # passed, failed or not_applicable (0011); None on rows written before.
    Column("verdict", String(20)),
)

ledger = Table(
    "ledger",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(80), nullable=False, index=True),
    _ts("occurred_at", nullable=False),
    Column("actor", String(200), nullable=False),
    Column("subject_id", String(200), index=True),
    Column("case_id", String(64), index=True),
    Column("outcome", String(20), nullable=False),
    # The RFC 8785 canonical JSON of the whole entry: what a later Merkle tree hashes.
    Column("canonical", Text, nullable=False),
    # Position in the Merkle tree (0-based, gap-free) and SHA-256(0x00 || canonical).
    Column("leaf_index", BigInteger, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
)

totp_enrolments = Table(
    "totp_enrolments",
    metadata,
    Column("subject_id", ForeignKey("subjects.id"), primary_key=True),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("last_used_step", BigInteger),
    _ts("enrolled_at", nullable=False),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("lookup_id", String(16), nullable=False),
    Column("hash", String(200), nullable=False),
    _ts("created_at", nullable=False),
    _ts("used_at"),
    UniqueConstraint("subject_id", "lookup_id", name="uq_recovery_codes_subject_lookup"),
)

email_codes = Table(
    "email_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)

throttles = Table(
    "throttles",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    _ts("last_failure_at"),
)

self_service_flows = Table(
    "self_service_flows",
    metadata,
    Column("handle_digest", String(64), primary_key=True),
    Column("identifier", String(300), nullable=False),
    Column("subject_id", String(200)),
    Column("case_id", String(64)),
    Column("state", String(20), nullable=False),
    Column("source_address", String(64)),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    # Keyed digest of the signed device cookie the request came with (0008).
    Column("device_digest", String(64)),
)

export_cursors = Table(
    "export_cursors",
    metadata,
    # One row per SIEM sink: the ledger seq up to which the sink acknowledged delivery.
    Column("sink", String(100), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, default=0),
    _ts("updated_at", nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    # One row per periodic job several workers could run (0012): the start of its
    # last run, claimed by one worker with a conditional update.
    Column("name", String(100), primary_key=True),
    _ts("last_run_at", nullable=False),
    Column("claimed_by", String(200), nullable=False),
)


# -- the tamper-evident ledger (custos.ledger) ---------------------------------------
Index("uq_ledger_leaf_index", ledger.c.leaf_index, unique=True)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    # The hash of the complete subtree of 2**level leaves starting at leaf
    # position * 2**level (level >= 1; level 0 is ledger.leaf_hash).
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False, index=True),
    Column("root_hash", String(64), nullable=False),
    Column("signed_at", String(40), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(200), nullable=False),
)

policies = Table(
    "policies",
    metadata,
    # The exact policy text a case froze, by the hash stored on the case.
    Column("hash", String(80), primary_key=True),
    Column("text", Text, nullable=False),
    _ts("first_seen_at", nullable=False),
)

repudiation_tokens = Table(
    "repudiation_tokens",
    metadata,
    # "This wasn't me" links in recovery notices: stored hashed, single use.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)


# -- risk signals and abuse resistance (docs/abuse-resistance.md) -----------------
rate_limits = Table(
    "rate_limits",
    metadata,
    # One counter per key (``proof:subject:method:source``, ``send:subject``, ...),
    # changed only by atomic upserts so limits hold across processes.
    Column("key", String(300), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
    _ts("window_start", nullable=False),
    # The earliest time the next attempt is allowed (growing delays).
    _ts("not_before", nullable=False),
    _ts("updated_at", nullable=False),
)

device_sightings = Table(
    "device_sightings",
    metadata,
    # Devices (keyed digest of the signed device cookie) a subject passed proofing on.
    Column("subject_id", ForeignKey("subjects.id"), primary_key=True),
    Column("device_digest", String(64), primary_key=True),
    _ts("first_seen_at", nullable=False),
    _ts("last_seen_at", nullable=False),
)

sim_swap_signals = Table(
    "sim_swap_signals",
    metadata,
    # SIM-swap or number-porting signals from the carrier webhook.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("provider", String(100), nullable=False),
    _ts("observed_at", nullable=False),
    _ts("received_at", nullable=False),
    # SHA-256 of the request signature: the same signed request is accepted once.
    Column("request_digest", String(64), nullable=False, unique=True),
)

incidents = Table(
    "incidents",
    metadata,
    # A declared security incident: scope '*' for everyone, else one subject group.
    Column("scope", String(200), primary_key=True),
    _ts("started_at", nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    # A legal hold, an incident freeze, a fraud hold or a kind the policy adds,
    # on one subject or on one group (exactly one of the two); it stands until
    # lifted by another person or until ends_at (0017, docs/holds.md).
    Column("id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("subject_id", ForeignKey("subjects.id"), index=True),
    Column("group_name", String(200), index=True),
    Column("reason", Text, nullable=False),
    Column("ticket", String(100)),
    Column("set_by", String(200), nullable=False),
    Column("set_by_person", String(200)),
    _ts("set_at", nullable=False),
    _ts("ends_at"),
    Column("lifted_by", String(200)),
    Column("lifted_by_person", String(200)),
    _ts("lifted_at"),
    Column("lift_reason", Text),
    # When the worker recorded that ends_at passed (a ledger event goes with it).
    _ts("expired_at"),
    CheckConstraint("(subject_id IS NULL) <> (group_name IS NULL)", name="one_target"),
)

sms_codes = Table(
    "sms_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)

# Velocity: requests from one source address in the last hour.
Index(
    "ix_self_service_flows_source",
    self_service_flows.c.source_address,
    self_service_flows.c.created_at,
)
Index("ix_cases_source", cases.c.source_address, cases.c.opened_at)


# -- notices (docs/notifications.md) --
notice_outbox = Table(
    "notice_outbox",
    metadata,
    # Messages (email or SMS) committed with the change they report, sealed (they
    # may hold a code or a link), kept only until their delivery was tried: the
    # worker's sweep sends them, and a crash before it recorded them loses no
    # notice. The id (which sorts in the order written) is also the
    # seal's associated data.
    Column("id", String(36), primary_key=True),
    Column("channel", String(10), nullable=False),
    Column("subject_id", String(200)),
    Column("sealed", LargeBinary, nullable=False),
    _ts("queued_at", nullable=False),
    # From when the sweep may take the row: when written, then, once a sweep
    # took it, until that sweep's lease runs out.
    _ts("lease_until", nullable=False),
    # The sweep's claim reads due rows in (lease_until, id) order from it, unsorted.
    Index("ix_notice_outbox_lease_until_id", "lease_until", "id"),
)


# -- subject self-management: contacts, authenticators, sessions (docs/enrolment.md) --
subject_contacts = Table(
    "subject_contacts",
    metadata,
    # Recovery contacts with their lifecycle: usable once confirmed_at
    # is set, until removed_at. The confirmation code is stored as an HMAC digest.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("address", String(320), nullable=False),
    _ts("added_at", nullable=False),
    _ts("confirmed_at"),
    _ts("removed_at"),
    Column("confirm_digest", String(64)),
    _ts("confirm_expires_at"),
)

authenticators = Table(
    "authenticators",
    metadata,
    # Every authenticator ever bound to a subject, never deleted.
    Column("id", String(36), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("label", String(100), nullable=False),
    _ts("bound_at", nullable=False),
    Column("bound_by", String(200), nullable=False),
    _ts("last_used_at"),
    _ts("revoked_at"),
    Column("revoked_reason", String(200)),
)

webauthn_credentials = Table(
    "webauthn_credentials",
    metadata,
    Column("authenticator_id", ForeignKey("authenticators.id"), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    # base64url of the credential id (at most 1023 bytes).
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False, default=0),
    Column("user_verified", Boolean, nullable=False, default=False),
)

webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    # Single use, five minutes, bound to a subject session or to a case. A help-desk
    # link (purpose 'case_link') stores the SHA-256 of its token as the challenge.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("challenge", String(100), nullable=False, unique=True),
    Column("purpose", String(20), nullable=False),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False),
    Column("session_id", Integer),
    Column("case_id", String(64), index=True),
    Column("user_verification", Boolean, nullable=False, default=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)

subject_sessions = Table(
    "subject_sessions",
    metadata,
    # Subjects' own sessions (R-26, R-27, R-30): the token is stored as SHA-256.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("aal", Integer, nullable=False),
    Column("second_factor_due", Boolean, nullable=False),
    _ts("created_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    _ts("reauth_at"),
    _ts("ended_at"),
    Column("end_reason", String(100)),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    # Operators' console sessions (R-26, R-30): the cookie's token is stored as SHA-256.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("method", String(30), nullable=False),
    Column("source", String(64)),
    _ts("created_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    _ts("ended_at"),
    Column("end_reason", String(100)),
)

pending_totp = Table(
    "pending_totp",
    metadata,
    # A TOTP secret shown once, bound only after its first code came back (10 minutes).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", ForeignKey("subjects.id"), nullable=False, index=True),
    Column("session_id", Integer, nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)


# -- re-proofing, attestation and agent challenges (docs/proofing.md) ---------------
proofed_attributes = Table(
    "proofed_attributes",
    metadata,
    # A subject's proofed core attributes, as HMAC digests only (never in clear, R-4).
    Column("subject_id", ForeignKey("subjects.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("digest", String(64), nullable=False),
    _ts("proofed_at", nullable=False),
)

used_jtis = Table(
    "used_jtis",
    metadata,
    # Re-proofing results seen once, by issuer and SHA-256 of their jti: a replay
    # loses the primary-key race in any number of processes.
    Column("issuer", String(300), primary_key=True),
    Column("jti_digest", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False),
    _ts("used_at", nullable=False),
    _ts("expires_at", nullable=False),
)

attestation_requests = Table(
    "attestation_requests",
    metadata,
    # Out-of-band links to a manager or sponsor: stored hashed, single use, 24 h.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("attester_id", String(200), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("decided_at"),
    Column("decision", String(20)),
)

agent_challenges = Table(
    "agent_challenges",
    metadata,
    # Challenges an agent triggers and the subject answers on their own device.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("subject_id", String(200), nullable=False, index=True),
    Column("mode", String(20), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("code_digest", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("state", String(20), nullable=False),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("answered_at"),
)

console_sso_attempts = Table(
    "console_sso_attempts",
    metadata,
    # Operator single sign-on started and not yet come back (10 minutes): the
    # SHA-256 of the state sent to the provider and of the browser's binding
    # cookie; the PKCE verifier and nonce are derived from the state with a key,
    # never stored.
    Column("state_digest", String(64), primary_key=True),
    Column("browser_digest", String(64), nullable=False),
    Column("return_to", String(500), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
)


# -- shared signals: the transmitter's streams and its SET outbox (docs/shared-signals.md) --
ssf_streams = Table(
    "ssf_streams",
    metadata,
    # One receiver each (OpenID SSF). The push Authorization value is a secret:
    # sealed (its associated data: the stream id), never returned by the API.
    Column("id", String(64), primary_key=True),
    Column("audience", JSON, nullable=False),
    Column("endpoint_url", String(2000), nullable=False),
    Column("sealed_authorization", LargeBinary),
    Column("events_requested", JSON, nullable=False),
    Column("description", String(500)),
    Column("status", String(20), nullable=False),
    Column("status_reason", String(300)),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("last_verification_at"),
)

ssf_outbox = Table(
    "ssf_outbox",
    metadata,
    # SETs committed with the change they report (a completed recovery) or the
    # request that asked for them (verification), sealed (they name the subject
    # and the case's reason), kept until delivered or failed for good; the
    # outcome is in the ledger. The id (which sorts in the order written) is
    # also the seal's associated data.
    Column("id", String(36), primary_key=True),
    # No foreign key: a completion that writes SETs must not wait on (or lock) the
    # stream row an admin is changing; the sweep drops rows whose stream is gone.
    Column("stream_id", String(64), nullable=False, index=True),
    Column("event_type", String(200), nullable=False),
    Column("jti", String(64), nullable=False),
    Column("subject_id", String(200)),
    Column("case_id", String(64)),
    Column("sealed", LargeBinary, nullable=False),
    _ts("queued_at", nullable=False),
    # From when the sweep may take the row: when written, the next attempt after
    # a failure, or, once a sweep took it, until that sweep's lease runs out.
    _ts("due_at", nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", String(300)),
    Index("ix_ssf_outbox_due_at", "due_at"),
)


# -- operators' local console accounts (docs/console.md#signing-in, 0016) ---------
operator_passwords = Table(
    "operator_passwords",
    metadata,
    # argon2id hashes only; must_change: a one-time password an admin handed out.
    Column("operator_id", ForeignKey("operators.id"), primary_key=True),
    Column("hash", String(200), nullable=False),
    Column("must_change", Boolean, nullable=False),
    _ts("set_at", nullable=False),
)

operator_factors = Table(
    "operator_factors",
    metadata,
    # Second factors with their lifecycle: a TOTP secret sealed, a WebAuthn
    # credential's public key and signature counter. revoked_at None: active.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("label", String(100), nullable=False),
    Column("sealed_secret", LargeBinary),
    Column("last_step", BigInteger),
    Column("credential_id", String(400), unique=True),
    Column("public_key", LargeBinary),
    Column("sign_count", BigInteger),
    _ts("created_at", nullable=False),
    _ts("last_used_at"),
    _ts("revoked_at"),
    Column("revoked_by", String(200)),
)

operator_sign_ins = Table(
    "operator_sign_ins",
    metadata,
    # A sign-in between its steps (10 minutes), keyed by the SHA-256 of a cookie
    # token; a TOTP secret being enrolled is sealed, a WebAuthn challenge kept
    # until answered once.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("method", String(30), nullable=False),
    Column("sealed_totp", LargeBinary),
    Column("challenge", String(100)),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)

operator_links = Table(
    "operator_links",
    metadata,
    # One-time links (enrolment, the demo's sign-in): stored hashed, single use.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("purpose", String(20), nullable=False),
    Column("issued_by", String(200), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
)


# -- sealing-key rotations (docs/operations.md#rotating-the-sealing-key, 0022) -----
sealing_rotations = Table(
    "sealing_rotations",
    metadata,
    # One row per rotation: which keys it retires, where the old ring was kept,
    # how far the re-sealing got (a cursor per sealed column, committed with each
    # batch, so an interrupted rotation resumes where it stopped). Key ids only.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("new_key_id", String(16), nullable=False),
    Column("old_key_ids", JSON, nullable=False),
    Column("retired_copy", String(1000)),
    Column("state", String(20), nullable=False),
    Column("cursors", JSON, nullable=False),
    Column("resealed", JSON, nullable=False),
    Column("started_by", String(200), nullable=False),
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    # One rotation at a time, held by the database across processes.
    Index(
        "uq_sealing_rotations_running",
        "state",
        unique=True,
        sqlite_where=text("state = 'running'"),
        postgresql_where=text("state = 'running'"),
    ),
)


# -- shared accounts: one link per owner (docs/shared-accounts.md, 0023) ------------
owner_links = Table(
    "owner_links",
    metadata,
    # One owner's one-time link to a shared account's new credential: the link's
    # digest only; the credential sealed under the row's id, wiped when the owner
    # opens the link or when it is voided or lapses.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("subject_id", String(200), nullable=False, index=True),
    Column("owner", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("blob", LargeBinary),
    Column("must_change", Boolean, nullable=False, default=False),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("redeemed_at"),
    _ts("voided_at"),
    Column("void_reason", String(200)),
)


# -- oversight (docs/oversight.md, 0021) ---------------------------------------------
refusal_windows = Table(
    "refusal_windows",
    metadata,
    # Refused operator actions counted per actor and kind in fixed windows:
    # the first of a window is in the ledger in full, the rest only here, and a
    # window that closes with more is written once as a summary.
    Column("actor", String(200), nullable=False),
    Column("kind", String(30), nullable=False),
    _ts("window_start", nullable=False),
    Column("count", Integer, nullable=False),
    _ts("last_at", nullable=False),
    Column("summarised", Boolean, nullable=False),
    PrimaryKeyConstraint("actor", "kind", "window_start"),
)

oversight_alerts = Table(
    "oversight_alerts",
    metadata,
    # An operator anomaly the detection raised: the signal, what was measured
    # against which threshold, and the ledger entries (seq, id) that show it.
    # ``fingerprint`` keeps a second detection run from raising the same alert.
    Column("id", String(40), primary_key=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("operator", String(200), nullable=False, index=True),
    Column("signal", String(40), nullable=False),
    Column("summary", Text, nullable=False),
    Column("measured", JSON, nullable=False),
    Column("entries", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    _ts("raised_at", nullable=False),
)


# -- incident campaigns (docs/campaigns.md, 0025) ---------------------------------------
campaigns = Table(
    "campaigns",
    metadata,
    # One containment campaign over a group: approved once by two other people,
    # then run by the worker in batches (its state lives here, so a killed
    # worker or an interrupted CLI resumes where it stopped).
    Column("id", String(64), primary_key=True),
    Column("group_name", String(200), nullable=False),
    Column("action", String(30), nullable=False),
    Column("reason", Text, nullable=False),
    Column("ticket", String(100), nullable=False),
    Column("state", String(30), nullable=False, index=True),
    Column("started_by", String(200), nullable=False),
    Column("started_by_person", String(200), nullable=False),
    _ts("started_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("finished_at"),
    Column("required_approvals", Integer, nullable=False),
    Column("approver_groups", JSON, nullable=False),
    # [{operator_id, person, at, reason}], in the order they came.
    Column("approvals", JSON, nullable=False),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    # One row per subject of a campaign, fixed when it starts. A row leaves
    # 'pending' in the same transaction that opens its case: never twice, never
    # skipped, whatever dies in between.
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("case_id", ForeignKey("cases.id"), index=True),
    _ts("opened_at"),
    Index("ix_campaign_members_pending", "campaign_id", "state", "position"),
)


# -- exceptions and break-glass (docs/exceptions.md, 0018) ---------------------------
policy_exceptions = Table(
    "policy_exceptions",
    metadata,
    # A time-bound relaxation of one requirement for some subjects, one group
    # or one tier (exactly one), active once two people other than the
    # requester approved it (``approvals``: actor, person, at), until ends_at
    # unless revoked. ``subject_ids`` is a JSON list, empty for a group or tier.
    Column("id", String(64), primary_key=True),
    Column("requested_by", String(200), nullable=False),
    Column("requester_person", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("relaxation", String(20), nullable=False),
    Column("value", String(200), nullable=False),
    _ts("starts_at", nullable=False),
    _ts("ends_at", nullable=False),
    Column("subject_ids", JSON, nullable=False),
    Column("group_name", String(200), index=True),
    Column("tier", String(100)),
    Column("approvals", JSON, nullable=False),
    # The ticket it answers (NULL only on rows written before migration 0027).
    Column("ticket", String(100)),
    Column("revoked_by", String(200)),
    _ts("revoked_at"),
    # When the worker recorded that ends_at passed (a ledger event goes with it).
    _ts("expired_at"),
)
