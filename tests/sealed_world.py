"""A World holding a sealed value in every sealed column (a case secret
awaiting propagation, TOTP secrets of subjects and operators, enrolments
under way, queued notices, a stream's push authorization and a queued SET),
and helpers to open them all and count them by key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
from operator_helpers import local_operator

from conftest import World
from custos.credentials import seal_contexts
from custos.credentials.sealed import prefix_of
from custos.domain.model import Role
from custos.domain.operator_accounts import SignInStage
from custos.notify.base import Message
from custos.service.notices import outbox as notices
from custos.service.ports import Services
from custos.service.recovery import credentials, self_service
from custos.service.shared_signals import streams
from custos.store import sealed_inventory as inventory
from custos.store.tap_repository import TapRepository

PASSWORD = "marble-lantern-quiver-27-fjord"


@dataclass
class Sealed:
    case_id: str
    operator_totp: pyotp.TOTP
    stream_id: str
    subjects: list[str] = field(default_factory=list)


def populate(world: World, *, subjects: int = 3, notices_per_subject: int = 2) -> Sealed:
    """Put sealed values in every column of ``store.sealed_inventory``."""
    world.subject("olivia")
    flow = self_service.start(world.svc, identifier="olivia", source_address="10.0.0.9")
    self_service.request_email_code(world.svc, handle=flow)
    code = world.last_code("olivia")
    self_service.submit_proof(world.svc, handle=flow, method="email_code", response=code)
    token = world.last_link_token("olivia")
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id
    names = [f"subject{i}" for i in range(subjects)]
    now = world.clock.now()
    for name in names:
        world.subject(name, with_totp=True)
    with world.svc.uow() as uow:
        for i, name in enumerate(names):
            uow.authenticators.add_pending_totp(
                name,
                i + 1,
                world.svc.sealer.seal(
                    pyotp.random_base32(), aad=seal_contexts.subject_pending_totp(name)
                ),
                now=now,
                expires_at=now + timedelta(minutes=10),
            )
            for n in range(notices_per_subject):
                hold_notice(world.svc, uow, name, n)
        # A shared account owner's link (docs/shared-accounts.md): its sealed password.
        link_id = uow.owner_links.add(
            case_id=case_id,
            subject_id="olivia",
            owner=names[0],
            digest=secrets.token_hex(32),
            must_change=False,
            now=now,
            expires_at=now + timedelta(minutes=10),
        )
        uow.owner_links.put_sealed(
            link_id, world.svc.sealer.seal(PASSWORD, aad=seal_contexts.owner_link(link_id))
        )
        # A service account's new secret awaiting its owner (docs/service-accounts.md).
        uow.rotations.add(
            case_id=case_id,
            service_id="olivia",
            owner_id=names[0],
            digest=secrets.token_hex(32),
            sealed=world.svc.sealer.seal(PASSWORD, aad=seal_contexts.service_secret(case_id)),
            grace_s=0,
            now=now,
            expires_at=now + timedelta(minutes=10),
        )
        # A reissue's Temporary Access Pass awaiting its subject (docs/policy.md).
        passes = TapRepository(uow.conn)
        pass_id = passes.add(
            case_id=case_id,
            subject_id="olivia",
            target="entra",
            account_id="olivia@contoso.test",
            method_id=secrets.token_hex(8),
            lifetime_minutes=60,
            usable_once=True,
            delete_on_completion=False,
            digest=secrets.token_hex(32),
            now=now,
            link_expires_at=now + timedelta(minutes=60),
        )
        aad = seal_contexts.temporary_access_pass(case_id, pass_id)
        passes.put_sealed(pass_id, world.svc.sealer.seal("TapValue-123", aad=aad))
        uow.commit()
    totp = local_operator(world, "opal", Role.ADMIN)
    operator = world.operators["opal"]
    with world.svc.uow() as uow:
        sign_in = uow.operator_credentials.start_sign_in(
            secrets.token_hex(32),
            operator_id=operator.id,
            stage=SignInStage.ENROL,
            method="password",
            now=now,
            expires_at=now + timedelta(minutes=10),
        )
        uow.operator_credentials.set_pending_totp(
            sign_in,
            world.svc.sealer.seal(
                pyotp.random_base32(), aad=seal_contexts.operator_pending_totp(operator.id)
            ),
        )
        uow.commit()
    stream = streams.create(
        world.svc,
        actor="test:admin",
        delivery=streams.Delivery("https://rp.example.org/ssf", authorization="Bearer s3cr3t"),
    )
    streams.request_verification(world.svc, actor="test:admin", stream_id=stream.id, state="one")
    return Sealed(case_id=case_id, operator_totp=totp, stream_id=stream.id, subjects=names)


def hold_notice(svc: Services, uow: object, subject_id: str, n: int) -> None:
    message = Message(
        to=f"{subject_id}@example.org", subject=f"notice {n}", body="hello", kind="test_notice"
    )
    notices.hold(svc, uow, "email", [message], subject_id=subject_id)  # type: ignore[arg-type]


def open_everything(svc: Services) -> int:
    """Open every sealed value with ``svc``'s keys (as the code that reads each
    column would); returns how many. Raises SealError on the first that fails."""
    opened = 0
    with svc.uow(read_only=True) as uow:
        for col in inventory.SEALED_COLUMNS:
            rows = inventory.not_under(uow.conn, col, b"\xff" * 9, after=None, limit=10**6)
            for row in rows:
                svc.sealer.unseal(row.blob, aad=row.context)
                opened += 1
    return opened


def by_column(svc: Services) -> dict[str, int]:
    with svc.uow(read_only=True) as uow:
        return {
            col.name: sum(inventory.count_by_key(uow.conn, col).values())
            for col in inventory.SEALED_COLUMNS
        }


def not_under_primary(svc: Services) -> int:
    """Values not sealed under the ring's current primary key."""
    prefix = prefix_of(svc.key.current().primary)
    with svc.uow(read_only=True) as uow:
        return sum(
            inventory.count_not_under(uow.conn, col, prefix) for col in inventory.SEALED_COLUMNS
        )
