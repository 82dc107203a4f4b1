// /attest#token=cat_...: a manager or sponsor confirms (or refuses) that the
// person recovering their account really asked. The request is shown first; the
// decision is posted only on a click.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");
  const OWN = {
    token_invalid:
      "This request no longer needs you: it was already answered, it expired, or the link was not copied completely. If the help desk still needs you, they will ask again.",
    token_expired: "This request has expired. If the help desk still needs you, they will ask again.",
  };
  const buttons = [$("attest"), $("refuse")];

  function fact(term, value) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }

  function when(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  async function show() {
    const answer = await portal.call("/api/v1/attestations/lookup", { body: { token } });
    if (!answer.ok) {
      portal.show("with-link", false);
      portal.say(portal.words(answer, OWN), "bad");
      return;
    }
    const b = answer.body;
    $("request").replaceChildren(
      ...fact("Who asks", b.subject),
      ...fact("You are their", b.relation),
      ...fact("How they asked", b.channel),
      ...fact("Reason given", b.reason),
      ...fact("Asked at", when(b.requested_at)),
      ...fact("Case", b.case),
    );
    portal.show("with-link");
  }

  for (const [button, decision] of [[buttons[0], "attest"], [buttons[1], "refuse"]]) {
    button.addEventListener("click", async () => {
      buttons.forEach((b) => (b.disabled = true));
      const answer = await portal.call(`/api/v1/attestations/${decision}`, { body: { token } });
      if (answer.ok) {
        portal.say(
          decision === "attest"
            ? "Thank you, your answer was recorded: you confirmed the request."
            : "Thank you, your answer was recorded: you refused the request, and security was told.",
          "ok",
        );
        return;
      }
      portal.say(portal.words(answer, OWN), "bad");
      if (answer.status === 0) buttons.forEach((b) => (b.disabled = false));
    });
  }

  if (!token) portal.show("needs-link");
  else show();
})();
