"""The operators' console (docs/console.md): one module of routes per area."""
