// /shared#token=...: one owner's own link to a shared account's new password
// (docs/shared-accounts.md). The token comes from the URL fragment (never sent
// to a server by the browser) and leaves the address bar at once; the password
// is fetched only on a click, and shown once.
"use strict";

(() => {
  const $ = portal.byId;

  portal.linkAction({
    button: "reveal",
    path: "/api/v1/self-service/shared-credential",
    section: "reveal-section",
    own: {
      token_invalid:
        "This link no longer works: it was already opened, replaced by a newer link, or the recovery was stopped.",
      token_expired: "This link has expired: links work only for a short time.",
    },
    done(body, button) {
      button.remove();
      $("account").textContent = body.account;
      $("password").textContent = body.password;
      portal.show("must-change", body.must_change);
      portal.show("shown");
      portal.say("The new password is ready. Note it now: this link does not show it again.", "ok");
    },
    refused() {
      portal.show("reveal-section", false);
    },
  });
})();
