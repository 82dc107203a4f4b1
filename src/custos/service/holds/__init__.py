"""Holds (docs/holds.md): set, lift and list them; their effect on cases (open
cases wait in ``blocked`` while one stands, and go back when the last one
ends); the worker's sweep of holds whose end time passed.

``standing.active_holds`` is what other use cases ask ("which holds stand on
this subject now?"); ``commands`` changes holds; ``case_effects`` moves cases;
``expiry`` is the worker's part; ``queries`` reads for the faces."""
