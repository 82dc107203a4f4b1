"""The tamper-evident ledger: RFC 9162 Merkle trees over the ``ledger`` table,
Ed25519-signed tree heads, witnesses, verification and evidence packs.

What other packages may call (the stable surface):

- :func:`custos.ledger.audit.verify_ledger` / :func:`custos.ledger.audit.audit_ledger`
  (verify and alert), :func:`custos.ledger.audit.latest_verification`
  (the last recorded verification outcome, cheap);
- :func:`custos.ledger.heads.sign_tree_head`, :func:`custos.ledger.heads.latest_head`;
- :func:`custos.ledger.proofs.entry_with_proof`, :func:`custos.ledger.proofs.consistency`;
- :func:`custos.ledger.evidence.export_pack`, :func:`custos.ledger.evidence.verify_pack`.
"""
