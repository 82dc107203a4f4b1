"""Key management use cases: the online rotation of the sealing key
(``sealing_rotation``) and what a status report shows of it (``sealing_status``).
Ledger signing keys rotate in ``custos.ledger.rotation``; SET signing keys in
``custos.service.shared_signals.keys``."""
