"""Directories: identities imported from the configured targets
(``subjects sync``) and drift between the case record and the directories."""
