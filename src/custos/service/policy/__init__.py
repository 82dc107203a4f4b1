"""The recovery policy as a use case: replaying recorded cases under a
candidate policy (``custos policy simulate``, the console's policy page).
Reads only: nothing here writes a row or a ledger entry."""
