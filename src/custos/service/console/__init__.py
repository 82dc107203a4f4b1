"""The operators' console: server-side sessions and what the console's pages read
(docs/console.md). Pages live in ``custos.web``; this package does no HTTP."""
