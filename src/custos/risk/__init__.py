"""Risk v1: score a recovery request from pure signals over a :class:`RiskContext`.

``signals`` holds the context and the signal providers, ``engine.assess`` adds
their points into a domain :class:`~custos.domain.model.RiskAssessment`. Nothing
here does I/O: the service layer gathers counts and known sources beforehand.
"""
