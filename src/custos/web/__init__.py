"""The web faces: the operators' console and the subjects' portal, rendered on the
server (Jinja2 + htmx) with every asset served from the package (docs/console.md).
Pages read ``Services`` from the application's state and call the service layer;
they never touch the store."""
