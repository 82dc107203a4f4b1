"""Custos as an OpenID Shared Signals transmitter (R-31, docs/shared-signals.md):
streams configured by admins (``streams``), SETs written to the SET outbox in
the transaction of the change they report (``emission``, ``outbox``), pushed
by the worker's sweep (``delivery``), signed with the key ring of
``custos.signals.keys`` (``keys``), described by the transmitter metadata
(``transmitter``)."""
