"""Notices: every message Custos sends: recovery notices with repudiation
links, the durable outbox and its sweep, SMS codes and their admission."""
