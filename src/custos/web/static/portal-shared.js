// /shared#token=...: one owner's own link to a shared account's new password
// (docs/shared-accounts.md). The token comes from the URL fragment (never sent
// to a server by the browser) and leaves the address bar at once; the password
// is fetched only on a click, and shown once.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");
  const OWN = {
    token_invalid:
      "This link no longer works: it was already opened, replaced by a newer link, or the recovery was stopped.",
    token_expired: "This link has expired: links work only for a short time.",
  };

  if (!token) {
    portal.show("needs-link");
    return;
  }
  portal.show("reveal-section");

  $("reveal").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    portal.busy(button, true);
    const answer = await portal.call("/api/v1/self-service/shared-credential", { body: { token } });
    if (!answer.ok) {
      portal.busy(button, false);
      portal.say(portal.words(answer, OWN), "bad");
      portal.show("reveal-section", false);
      return;
    }
    button.remove();
    $("account").textContent = answer.body.account;
    $("password").textContent = answer.body.password;
    portal.show("must-change", answer.body.must_change);
    portal.show("shown");
    portal.say("The new password is ready. Note it now: this link does not show it again.", "ok");
  });
})();
