"""Pure, I/O-free building blocks for secrets.

- ``keys``: the master key and its HKDF purpose subkeys.
- ``sealed``: AES-256-GCM sealing of secrets held for a while (bound by AAD).
- ``tokens``: one-time reset tokens and operator API tokens, stored as digests.
- ``passwords``: new-password rules and temporary password generation.

Every secret comes from :mod:`secrets`, every comparison of secrets is
constant-time, and nothing here logs, reads files or touches the network.
"""
