"""Service accounts under their owners' governance (docs/service-accounts.md):
owner-requested rotation (``requests``), the generated secret and its one-time
retrieval (``issuing``), rotation schedules (``schedule``), owner departure and
unowned accounts (``owners``), interactive use of a service credential
(``interactive``). The grace periods of old credentials are the worker's
(``propagation/graces.py``)."""
