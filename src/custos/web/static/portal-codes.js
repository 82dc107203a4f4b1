// /portal/recovery-codes: a new set of saved recovery codes, shown once.
"use strict";

(() => {
  const $ = portal.byId;

  async function load() {
    const answer = await me.call("/api/v1/me/methods", { method: "GET" });
    if (!answer.ok) return;
    const set = answer.body.find((a) => a.active && a.kind === "recovery_codes");
    $("codes-current").textContent = set
      ? `You have a set of saved recovery codes (created ${me.when(set.bound_at)}).`
      : "You have no saved recovery codes yet.";
  }

  $("codes-new").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    portal.busy(button, true);
    portal.clear();
    const answer = await me.call("/api/v1/me/methods/recovery-codes");
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    me.addFactor("recovery_code");
    $("codes").replaceChildren(
      ...answer.body.codes.map((code) => {
        const li = document.createElement("li");
        li.textContent = code;
        return li;
      }),
    );
    portal.show("codes-shown");
    $("codes-title").focus();
    load();
  });

  $("codes-print").addEventListener("click", () => window.print());
  $("codes-saved").addEventListener("click", () => {
    $("codes").replaceChildren();
    portal.show("codes-shown", false);
    portal.say("Your new codes are in use; the old ones no longer work.", "ok");
  });

  if (me.signedIn()) load();
})();
