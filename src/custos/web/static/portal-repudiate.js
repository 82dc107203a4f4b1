// /repudiate#token=crp_...: "this wasn't me". One answer whatever the token (the
// API reveals nothing about the case); posted only on a click.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");

  if (!token) {
    portal.show("needs-link");
    return;
  }
  portal.show("with-link");
  $("stop").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const answer = await portal.call("/api/v1/self-service/repudiate", { body: { token } });
    if (answer.ok) {
      portal.say(answer.body.message, "ok");
      return;
    }
    button.disabled = false;
    portal.say(portal.words(answer), "bad");
  });
})();
