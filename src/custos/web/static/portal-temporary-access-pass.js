// /temporary-access-pass#token=ctp_...: the subject of a reissue sees the
// Temporary Access Pass made for them, once. Posted only on a click; the pass
// is shown in the page and kept nowhere else. Like the other one-time link
// pages it goes through portal.linkAction (the token leaves the address bar;
// a refused click says why and leaves the button usable).
"use strict";

(() => {
  const $ = portal.byId;

  portal.linkAction({
    button: "reveal",
    path: "/api/v1/temporary-access-pass",
    done(body) {
      $("account").textContent = body.account;
      $("lifetime").textContent = String(body.lifetime_minutes);
      $("uses").textContent = body.usable_once ? "one sign-in" : "several sign-ins";
      $("value").textContent = body.temporary_access_pass;
      portal.show("value-box");
      portal.show("with-link", false);
    },
  });
})();
