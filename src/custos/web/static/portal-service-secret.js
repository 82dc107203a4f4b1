// /service-secret#token=csr_...: the owner retrieves a rotated service-account
// value once. Posted only on a click; the value is shown in the page and kept
// nowhere else.
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
    const answer = await portal.call("/api/v1/service-secret", { body: { token } });
    if (answer.ok) {
      $("account").textContent = answer.body.service_account;
      $("value").textContent = answer.body.secret;
      portal.show("value-box");
      $("with-link").hidden = true;
      return;
    }
    portal.say(portal.words(answer), "bad");
  });
})();
