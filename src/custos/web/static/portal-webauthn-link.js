// /webauthn#link=cwl_...: the help desk asked the subject to confirm a recovery
// with their security key. Nothing happens until the button is pressed, so a
// mail scanner opening the link decides nothing.
"use strict";

(() => {
  const $ = portal.byId;
  const link = portal.fragment("link");
  const API = "/api/v1/self-service/webauthn-links";
  const OWN = {
    token_invalid:
      "This link is no longer valid: it was already used or it expired. Ask the help desk for a new one.",
    token_expired: "This link is no longer valid: it was already used or it expired. Ask the help desk for a new one.",
    proofing_failed:
      "Your security key did not confirm this recovery. You can try again; the help desk sees that this attempt failed.",
  };
  const go = $("go");

  if (!link) {
    portal.show("needs-link");
    return;
  }
  portal.show("with-link");
  if (!window.PublicKeyCredential) {
    portal.say("This browser cannot use security keys. Open the link in an up-to-date browser.", "bad");
    go.disabled = true;
  }

  go.addEventListener("click", async () => {
    go.disabled = true;
    portal.say("Waiting for your security key...");
    const options = await portal.call(`${API}/options`, { body: { link } });
    if (!options.ok) {
      portal.say(portal.words(options, OWN), "bad");
      return;
    }
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: requestOptions(options.body) });
    } catch (e) {
      portal.say(
        "No security key answered (cancelled, timed out, or not the key you registered). Press the button to try again.",
        "bad",
      );
      go.disabled = false;
      return;
    }
    const proof = await portal.call(`${API}/proof`, {
      body: { link, credential: assertionJSON(credential) },
    });
    if (proof.ok) {
      portal.say("Confirmed. Your security key answered; you can tell the help desk you are done.", "ok");
      go.remove();
      return;
    }
    portal.say(portal.words(proof, OWN), "bad");
    if (portal.errorOf(proof).id === "proofing_failed") go.disabled = false;
  });
})();
