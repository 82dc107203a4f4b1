"""Backup and restore with ledger continuity (docs/operations.md, "Backup and
restore"): ``manifest`` (what a backup holds, checked before a restore),
``backup`` (``custos backup DEST``), ``continuity`` (witnessed heads, what a
restore would lose, consistency proofs), ``restore`` (``custos restore SRC``)."""
