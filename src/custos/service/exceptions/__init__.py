"""Exceptions and break-glass (docs/exceptions.md): requesting, approving and
revoking them, the worker's record of their expiry, the lists the faces read,
and their use by the cases they cover."""
