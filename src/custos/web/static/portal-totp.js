// /portal/totp: bind an authenticator app. The new secret is shown once, as a QR
// code (an SVG data: URI drawn by the API) and as text; it counts only once a
// first code from the app confirms it.
"use strict";

(() => {
  const $ = portal.byId;
  let pending = 0;
  let current = null;

  function secretOf(uri) {
    const query = uri.slice(uri.indexOf("?") + 1);
    const secret = new URLSearchParams(query).get("secret") || "";
    return secret.replace(/(.{4})/g, "$1 ").trim();
  }

  async function load() {
    const answer = await me.call("/api/v1/me/methods", { method: "GET" });
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    current = answer.body.find((a) => a.active && a.kind === "totp") || null;
    $("totp-current").textContent = current
      ? `An authenticator app is set up (since ${me.when(current.bound_at)}). Setting up a new one replaces it once you confirm the new one.`
      : "No authenticator app is set up yet.";
    $("totp-start").textContent = current ? "Replace the authenticator app" : "Set up an authenticator app";
    portal.show("totp-remove-section", Boolean(current));
  }

  $("totp-start").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    portal.busy(button, true);
    portal.clear();
    const answer = await me.call("/api/v1/me/methods/totp");
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    pending = answer.body.pending_id;
    $("totp-qr").src = answer.body.qr_code;
    $("totp-secret").textContent = secretOf(answer.body.otpauth_uri);
    $("totp-code").value = "";
    portal.show("totp-new");
    $("totp-new-title").focus();
  });

  $("totp-confirm").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    portal.busy(button, true);
    const answer = await me.call(`/api/v1/me/methods/totp/${pending}/confirm`, {
      body: { code: $("totp-code").value.trim() },
    });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(
        portal.words(answer, {
          proofing_failed:
            "That code does not match the new key. Check the time on your phone and type the code the app shows now. After 10 minutes, start again.",
        }),
        "bad",
      );
      return;
    }
    me.addFactor("totp");
    $("totp-qr").removeAttribute("src");
    $("totp-secret").textContent = "";
    portal.show("totp-new", false);
    portal.say("Your authenticator app is set up. We sent a notice to your confirmed email addresses.", "ok");
    load();
  });

  $("totp-remove").addEventListener("click", async (event) => {
    if (!current) return;
    const button = event.currentTarget;
    portal.busy(button, true);
    const answer = await me.call(`/api/v1/me/methods/${encodeURIComponent(current.id)}/revoke`, {
      body: { reason: "removed by the subject" },
    });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    portal.say("The authenticator app was removed: its codes no longer work.", "ok");
    load();
  });

  if (me.signedIn()) load();
})();
