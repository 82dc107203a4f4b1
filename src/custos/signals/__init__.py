"""Custos as an OpenID Shared Signals transmitter (docs/shared-signals.md): the
SET signing key ring, SET signing, and RFC 8935 push delivery. Streams, the
SET outbox and the sweep that sends it live in ``custos.service.shared_signals``."""
