// /temporary-access-pass#token=ctp_...: the subject of a reissue sees the
// Temporary Access Pass made for them, once. Posted only on a click; the pass
// is shown in the page and kept nowhere else.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");

  if (!token) {
    portal.show("needs-link");
    return;
  }
  portal.show("with-link");
  $("reveal").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const answer = await portal.call("/api/v1/temporary-access-pass", { body: { token } });
    if (answer.ok) {
      $("account").textContent = answer.body.account;
      $("lifetime").textContent = String(answer.body.lifetime_minutes);
      $("uses").textContent = answer.body.usable_once ? "one sign-in" : "several sign-ins";
      $("value").textContent = answer.body.temporary_access_pass;
      portal.show("value-box");
      $("with-link").hidden = true;
      return;
    }
    portal.say(portal.words(answer), "bad");
  });
})();
