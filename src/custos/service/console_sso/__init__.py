"""Console single sign-on: operators sign in through the OpenID Connect provider
of ``[console.oidc]``. ``attempts`` keeps each started sign-in server-side (its
state and the browser it was started in, hashed) until the provider answers;
``provisioning`` matches the identity to an operator by name, creates one just
in time or updates its roles and scope from the role mapping; ``sign_in`` runs
a whole answer and records every refusal. Opening the console session is the
console face's (``custos.console``)."""
