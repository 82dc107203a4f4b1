"""The embedded demo: a seeded organisation on SQLite and the built-in directory."""
