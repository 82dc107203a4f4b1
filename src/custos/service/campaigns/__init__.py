"""Incident campaigns (docs/campaigns.md): containment of every member of a
group in every connected system, approved once by two people who are not the
starter, then run by the worker in batches.

``commands`` starts, approves, pauses, resumes and cancels; ``execution`` is
the worker's part (one case per member, exactly once; the end of a campaign);
``alerts`` sends the signed security webhook; ``report`` and ``queries`` read
for the faces."""
