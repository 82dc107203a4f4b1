"""Notifications to subjects and security teams."""
