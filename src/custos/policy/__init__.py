"""Policy as code: one versioned YAML file picks a tier for each recovery case.

``schema`` holds the pydantic models of the file, ``loader`` turns text into a
:class:`~custos.policy.loader.LoadedPolicy` (or a :class:`PolicyError` with
``file:line: reason`` problems), and ``engine`` selects the tier and freezes its
requirements, with the policy hash, on a case. See ``docs/policy.md``.
"""
