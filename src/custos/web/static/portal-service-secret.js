// /service-secret#token=csr_...: the owner retrieves a rotated service-account
// value once. Posted only on a click; the value is shown in the page and kept
// nowhere else.
"use strict";

(() => {
  const $ = portal.byId;

  portal.linkAction({
    button: "reveal",
    path: "/api/v1/service-secret",
    done(body) {
      $("account").textContent = body.service_account;
      $("value").textContent = body.secret;
      portal.show("value-box");
      portal.show("with-link", false);
    },
  });
})();
