"""SIEM export: ledger events as OCSF JSON, delivered at least once to syslog and HTTPS."""
