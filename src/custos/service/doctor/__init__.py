"""``custos doctor``: what is wrong with a deployment, checked in one pass."""
