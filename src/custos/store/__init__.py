"""Persistence: SQLAlchemy tables, repositories and the unit of work. Imports the domain."""
