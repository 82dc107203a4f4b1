"""Stream management (SSF §8.1), for admins only: create, read, update,
replace and delete a receiver's stream, read and set its status, and ask for a
verification event. Every change is a ledger event (R-36); none of them ever
records or returns the push ``Authorization`` value, which is stored sealed.

Custos answers for receivers: an admin (API with an admin operator token, or
``custos ssf streams``) creates the stream a receiver is to get. The stream's
``aud`` is transmitter-supplied in SSF; Custos takes it from the admin at
creation (default: the origin of the push endpoint) and never changes it.

Receiver-supplied properties: ``delivery`` (push only: ``endpoint_url``,
``authorization_header``), ``events_requested`` (default: every supported
event type; values Custos does not know are kept and ignored) and
``description``. An update (PATCH) changes the properties it holds, a
replacement (PUT) also removes those it omits; ``delivery`` is replaced as a
whole, so an update that gives ``delivery`` without ``authorization_header``
removes the header. Transmitter-supplied properties given to an update must
match the stream's (SSF §8.1.1.3).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from custos.credentials import seal_contexts
from custos.domain import shared_signals as ssf
from custos.domain.errors import AlreadyDecided, InvalidInput, NotAuthorized, NotFound, Throttled
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Operator, Role
from custos.domain.shared_signals import Stream, StreamStatus
from custos.service.ports import Services
from custos.service.shared_signals.outbox import issuer, queued
from custos.signals.push import endpoint_problem
from custos.store.ssf_repository import Backlog
from custos.store.unit_of_work import UnitOfWork

MAX_AUDIENCES: Final = 10
MAX_AUDIENCE: Final = 500
MAX_URL: Final = 2000
MAX_EVENTS: Final = 20
MAX_EVENT_URI: Final = 300
MAX_DESCRIPTION: Final = 500
MAX_AUTHORIZATION: Final = 4096
MAX_REASON: Final = 300
MAX_STATE: Final = 1000
#: Transmitter-supplied properties an update may repeat (they must match).
TRANSMITTER_SUPPLIED: Final = (
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
)


class StreamNotFound(NotFound):
    error_id = "stream_not_found"


class StreamDisabled(AlreadyDecided):
    error_id = "stream_disabled"


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where and how SETs are pushed. ``authorization`` is the exact value of the
    ``Authorization`` header the receiver wants (e.g. ``Bearer ...``)."""

    endpoint_url: str
    authorization: str | None = None
    method: str = ssf.PUSH


@dataclass(frozen=True, slots=True)
class Change:
    """The receiver-supplied properties of an update; ``present`` names those
    the request holds (an absent one is unchanged, or removed by a replacement)."""

    present: frozenset[str]
    delivery: Delivery | None = None
    events_requested: tuple[str, ...] | None = None
    description: str | None = None


def as_admin(operator: Operator) -> str:
    """The actor of an admin operator. Raises NotAuthorized for anyone else."""
    if not (operator.active and Role.ADMIN in operator.roles):
        raise NotAuthorized("only the admin role manages shared-signals streams")
    return operator.actor


# -- views (what the API answers) ---------------------------------------------------
def configuration(svc: Services, stream: Stream) -> dict[str, Any]:
    """The stream's configuration as SSF shows it (never its Authorization)."""
    view: dict[str, Any] = {
        "stream_id": stream.id,
        "iss": issuer(svc),
        "aud": ssf.audience_claim(stream.audience),
        "delivery": {"method": ssf.PUSH, "endpoint_url": stream.endpoint_url},
        "events_supported": list(ssf.EVENTS_SUPPORTED),
        "events_requested": list(stream.events_requested),
        "events_delivered": list(stream.events_delivered),
        "min_verification_interval": svc.settings.ssf.min_verification_interval_s,
    }
    if stream.description is not None:
        view["description"] = stream.description
    return view


def status_view(stream: Stream) -> dict[str, Any]:
    view: dict[str, Any] = {"stream_id": stream.id, "status": str(stream.status)}
    if stream.status_reason:
        view["reason"] = stream.status_reason
    return view


# -- reads --------------------------------------------------------------------------
def get(svc: Services, stream_id: str) -> Stream:
    """Raises StreamNotFound."""
    with svc.uow(read_only=True) as uow:
        return _get(uow, stream_id)


def all_streams(svc: Services) -> list[Stream]:
    with svc.uow(read_only=True) as uow:
        return uow.ssf_streams.all()


def backlog(svc: Services) -> dict[str, Backlog]:
    """Per stream with SETs waiting: how many, and the last failure seen."""
    with svc.uow(read_only=True) as uow:
        return uow.ssf_outbox.backlog()


# -- changes ------------------------------------------------------------------------
def create(
    svc: Services,
    *,
    actor: str,
    delivery: Delivery | None,
    events_requested: tuple[str, ...] | None = None,
    description: str | None = None,
    audience: tuple[str, ...] | None = None,
) -> Stream:
    """A new enabled stream. Raises InvalidInput (naming the field) for a
    delivery other than push, an endpoint that is not https (see
    ``endpoint_problem``), or a value too long."""
    if delivery is None:
        raise InvalidInput(
            "Custos delivers by push only: give delivery.method urn:ietf:rfc:8935 and "
            "delivery.endpoint_url (a request without delivery asks for poll)",
            field="delivery",
        )
    _check_delivery(svc, delivery)
    now = svc.clock.now()
    stream = Stream(
        id=secrets.token_hex(16),
        audience=_audience(audience, delivery.endpoint_url),
        endpoint_url=delivery.endpoint_url,
        events_requested=_events(
            ssf.EVENTS_SUPPORTED if events_requested is None else events_requested
        ),
        description=_description(description),
        status=StreamStatus.ENABLED,
        status_reason=None,
        created_at=now,
        updated_at=now,
        has_authorization=delivery.authorization is not None,
    )
    with svc.uow() as uow:
        uow.ssf_streams.add(stream, sealed_authorization=_sealed(svc, stream.id, delivery))
        _record(uow, EventType.SSF_STREAM_CREATED, actor, now, _facts(stream))
        uow.commit()
    return stream


def update(
    svc: Services,
    *,
    actor: str,
    stream_id: str,
    change: Change,
    expected: Mapping[str, object],
    replace_all: bool = False,
) -> Stream:
    """Apply an update (PATCH) or, with ``replace_all``, a replacement (PUT).
    Raises StreamNotFound, or InvalidInput for a transmitter-supplied value that
    does not match or a receiver-supplied one that is not valid."""
    if replace_all and "delivery" not in change.present:
        raise InvalidInput("a replacement must give delivery", field="delivery")
    if change.delivery is not None:
        _check_delivery(svc, change.delivery)
    now = svc.clock.now()
    with svc.uow() as uow:
        stream = _get(uow, stream_id, for_update=True)
        _check_expected(svc, stream, expected)
        updated = _changed(stream, change, replace_all=replace_all, now=now)
        uow.ssf_streams.save(updated)
        if change.delivery is not None:
            uow.ssf_streams.set_authorization(stream.id, _sealed(svc, stream.id, change.delivery))
        changed = sorted(
            change.present | ({"description", "events_requested"} if replace_all else set())
        )
        _record(
            uow,
            EventType.SSF_STREAM_UPDATED,
            actor,
            now,
            {**_facts(updated), "changed": changed},
        )
        uow.commit()
    return updated


def set_status(
    svc: Services, *, actor: str, stream_id: str, status: StreamStatus, reason: str | None
) -> Stream:
    """Enable, pause (SETs are held) or disable (SETs waiting are dropped, none
    are written) a stream. Raises StreamNotFound, InvalidInput."""
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters", field="reason")
    now = svc.clock.now()
    with svc.uow() as uow:
        stream = _get(uow, stream_id, for_update=True)
        updated = replace(stream, status=status, status_reason=reason or None, updated_at=now)
        uow.ssf_streams.save(updated)
        dropped = (
            uow.ssf_outbox.drop_for_stream(stream.id) if status == StreamStatus.DISABLED else 0
        )
        _record(
            uow,
            EventType.SSF_STREAM_STATUS_CHANGED,
            actor,
            now,
            {
                "stream": stream.id,
                "from": str(stream.status),
                "to": str(status),
                "dropped": dropped,
            },
            reason=reason or "",
        )
        uow.commit()
    return updated


def delete(svc: Services, *, actor: str, stream_id: str) -> None:
    """Delete a stream and drop the SETs waiting for it. Raises StreamNotFound."""
    now = svc.clock.now()
    with svc.uow() as uow:
        stream = _get(uow, stream_id, for_update=True)
        dropped = uow.ssf_outbox.drop_for_stream(stream.id)
        uow.ssf_streams.delete(stream.id)
        _record(
            uow,
            EventType.SSF_STREAM_DELETED,
            actor,
            now,
            {**_facts(stream), "dropped": dropped},
        )
        uow.commit()


def request_verification(svc: Services, *, actor: str, stream_id: str, state: str | None) -> None:
    """Queue a verification event echoing ``state`` (SSF §8.1.4). Raises
    StreamNotFound, StreamDisabled, InvalidInput, or Throttled when the last
    request on this stream is younger than ``min_verification_interval``."""
    if state is not None and len(state) > MAX_STATE:
        raise InvalidInput(f"a state is at most {MAX_STATE} characters", field="state")
    now = svc.clock.now()
    interval = timedelta(seconds=svc.settings.ssf.min_verification_interval_s)
    with svc.uow() as uow:
        stream = _get(uow, stream_id, for_update=True)
        if not stream.holds_events:
            raise StreamDisabled("the stream is disabled: enable it first")
        last = stream.last_verification_at
        if last is not None and now < last + interval:
            wait = max(1, int((last + interval - now).total_seconds() + 0.999))
            raise Throttled(
                f"one verification per {interval.seconds} seconds: try again in {wait} seconds",
                retry_after_seconds=wait,
            )
        row = queued(
            svc,
            stream,
            subject=ssf.stream_subject(stream.id),
            event_type=ssf.VERIFICATION,
            event=ssf.verification(state),
            txn=None,
            subject_id=None,
            case_id=None,
            now=now,
        )
        uow.ssf_outbox.add_many([row], due_at=now)
        uow.ssf_streams.save(replace(stream, last_verification_at=now))
        _record(
            uow,
            EventType.SSF_VERIFICATION_REQUESTED,
            actor,
            now,
            {"stream": stream.id, "jti": row.jti},
        )
        uow.commit()


# -- helpers ------------------------------------------------------------------------
def _get(uow: UnitOfWork, stream_id: str, *, for_update: bool = False) -> Stream:
    stream = uow.ssf_streams.get(stream_id, for_update=for_update) if stream_id else None
    if stream is None:
        raise StreamNotFound(f"no stream '{stream_id[:100]}'")
    return stream


def _check_delivery(svc: Services, delivery: Delivery) -> None:
    if delivery.method != ssf.PUSH:
        raise InvalidInput(
            f"Custos delivers by push only ({ssf.PUSH}), not '{delivery.method[:100]}'",
            field="delivery.method",
        )
    if len(delivery.endpoint_url) > MAX_URL:
        raise InvalidInput(f"an endpoint URL is at most {MAX_URL} characters")
    problem = endpoint_problem(
        delivery.endpoint_url, allow_insecure=svc.settings.ssf.allow_insecure_transport
    )
    if problem is not None:
        raise InvalidInput(f"delivery.endpoint_url {problem}", field="delivery.endpoint_url")
    value = delivery.authorization
    if value is not None and (
        not value.strip()
        or len(value) > MAX_AUTHORIZATION
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        # A CR or LF would smuggle headers into the push; refused, never echoed.
        raise InvalidInput(
            f"delivery.authorization_header must be 1-{MAX_AUTHORIZATION} printable characters",
            field="delivery.authorization_header",
        )


def _audience(given: tuple[str, ...] | None, endpoint_url: str) -> tuple[str, ...]:
    if given is None:
        parts = urlsplit(endpoint_url)
        return (f"{parts.scheme}://{parts.netloc}",)
    values = tuple(dict.fromkeys(given))
    if not values or len(values) > MAX_AUDIENCES:
        raise InvalidInput(f"give 1 to {MAX_AUDIENCES} audience values", field="aud")
    if any(not v.strip() or len(v) > MAX_AUDIENCE for v in values):
        raise InvalidInput(f"an audience value is 1-{MAX_AUDIENCE} characters", field="aud")
    return values


def _events(given: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(given))
    if len(values) > MAX_EVENTS or any(not v or len(v) > MAX_EVENT_URI for v in values):
        raise InvalidInput(
            f"events_requested lists at most {MAX_EVENTS} URIs of 1-{MAX_EVENT_URI} characters",
            field="events_requested",
        )
    return values


def _description(given: str | None) -> str | None:
    if given is not None and len(given) > MAX_DESCRIPTION:
        return given[:MAX_DESCRIPTION]  # SSF §8.1.1: the transmitter MAY truncate it
    return given


def _sealed(svc: Services, stream_id: str, delivery: Delivery) -> bytes | None:
    if delivery.authorization is None:
        return None
    return svc.sealer.seal(
        delivery.authorization, aad=seal_contexts.stream_authorization(stream_id)
    )


def _changed(stream: Stream, change: Change, *, replace_all: bool, now: datetime) -> Stream:
    def pick(name: str, new: Any, removed: Any, current: Any) -> Any:
        if name in change.present:
            return new
        return removed if replace_all else current

    delivery = change.delivery
    return replace(
        stream,
        endpoint_url=delivery.endpoint_url if delivery is not None else stream.endpoint_url,
        has_authorization=(
            delivery.authorization is not None if delivery is not None else stream.has_authorization
        ),
        events_requested=_events(
            pick("events_requested", change.events_requested or (), (), stream.events_requested)
        ),
        description=_description(pick("description", change.description, None, stream.description)),
        updated_at=now,
    )


def _check_expected(svc: Services, stream: Stream, expected: Mapping[str, object]) -> None:
    """Transmitter-supplied properties in an update must match the stream's."""
    current = configuration(svc, stream)
    for name in TRANSMITTER_SUPPLIED:
        if name not in expected:
            continue
        given, have = expected[name], current[name]
        if name == "aud":
            given = [given] if isinstance(given, str) else given
            have = [have] if isinstance(have, str) else have
        if isinstance(given, list) and isinstance(have, list):
            same = sorted(map(str, given)) == sorted(map(str, have))
        else:
            same = given == have
        if not same:
            raise InvalidInput(
                f"{name} is set by Custos and cannot be changed (give the current value or "
                "leave it out)",
                field=name,
            )


def _facts(stream: Stream) -> dict[str, object]:
    """What the ledger keeps of a stream: never its Authorization value, and of
    its endpoint only the origin and path (a query string may carry a secret)."""
    parts = urlsplit(stream.endpoint_url)
    return {
        "stream": stream.id,
        "endpoint": f"{parts.scheme}://{parts.netloc}{parts.path}",
        "audience": list(stream.audience),
        "events_delivered": list(stream.events_delivered),
        "has_authorization": stream.has_authorization,
        "status": str(stream.status),
    }


def _record(
    uow: UnitOfWork,
    type_: EventType,
    actor: str,
    now: datetime,
    data: dict[str, object],
    *,
    reason: str = "",
) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=actor,
                subject_id=None,
                case_id=None,
                reason=reason,
                data=data,
            )
        ]
    )
