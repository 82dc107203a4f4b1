"""Where the sealing key ring lives, behind one small protocol
(:class:`custos.keystore.base.KeyStore`): a file (the default), the environment
(``CUSTOS_SEALING_KEY``), or a deployment's own plug-in for a KMS or an HSM,
chosen by ``sealing_key_store`` (docs/operations.md, "Key stores").

- ``base``: the protocol and its errors.
- ``file_store``, ``env_store``: the two stores Custos ships.
- ``selection``: the configured store, plug-ins included.
- ``live``: the ring a running process uses, re-read when its store changes.
"""
