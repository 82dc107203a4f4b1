"""The subjects' pages (the self-service portal): recovering an account, the
pages that links in emails open, and managing one's own sign-in and recovery
methods. Every page is a template with script files that call the JSON API
(docs/console.md, "Self-service portal")."""
