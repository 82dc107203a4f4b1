// /recover: the subject's own recovery. User name, then one or more proofs with
// the methods offered, then "check your email" for the reset link. Until a proof
// passes, every answer reads the same for known and unknown accounts:
// the methods offered are those of the policy, not of the account.
"use strict";

(() => {
  const $ = portal.byId;
  const API = "/api/v1/self-service/recoveries";
  const FLOW_MINUTES = 60;
  const ASK = {
    totp: ["Code from your authenticator app", "The 6-digit code your app shows now.", "numeric"],
    recovery_code: [
      "Saved recovery code",
      "Type it as saved, for example K7QF-3D9X-W2HM-8RZT-V4NP. Each code works once.",
      "text",
    ],
    email_code: ["Code from the email", "The 8-digit code in the email; it works for 10 minutes.", "numeric"],
    sms_code: ["Code from the text message", "The 8-digit code in the text; it works for 10 minutes.", "numeric"],
  };
  const SENT = {
    email_code: "If a confirmed email address is on file, a code is on its way. It can take a minute to arrive.",
    sms_code: "If a confirmed phone number is on file, a code is on its way. It can take a minute to arrive.",
  };
  let flow = "";
  let startedAt = 0;
  let method = "";

  const flowPath = (tail) => `${API}/${encodeURIComponent(flow)}/${tail}`;

  function expired() {
    if (Date.now() - startedAt < FLOW_MINUTES * 60 * 1000) return false;
    portal.say("This recovery started more than an hour ago and has ended. Start again.", "warn");
    portal.show("how", false);
    portal.show("who");
    flow = "";
    return true;
  }

  function offer(methods) {
    let answerable = 0;
    for (const item of $("choices").children) {
      item.hidden = !methods.includes(item.dataset.method);
      if (!item.hidden) answerable += 1;
    }
    portal.show("attestation", methods.includes("manager_attestation"));
    portal.show("proof", false);
    return answerable;
  }

  function ask(chosen) {
    method = chosen;
    const [label, hint, mode] = ASK[chosen];
    $("code-label").textContent = label;
    $("code-hint").textContent = hint;
    $("code").inputMode = mode;
    $("code").value = "";
    portal.show("proof");
    $("code").focus();
  }

  function finish(title, text) {
    portal.show("how", false);
    $("finished-title").textContent = title;
    $("finished-text").textContent = text;
    portal.show("finished");
  }

  async function prove(chosen, code, button) {
    if (expired()) return;
    portal.busy(button, true);
    const answer = await portal.call(flowPath("proofs"), { body: { method: chosen, code } });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(
        portal.words(answer, {
          proofing_failed:
            "That was not accepted. Check it and try again, or choose another method. " +
            "(A security key must be one you registered; codes work once and for a short time.)",
        }),
        "bad",
      );
      return;
    }
    const result = answer.body;
    if (result.replacement_recovery_code) {
      $("replacement-code").textContent = result.replacement_recovery_code;
      portal.show("replacement");
    }
    if (result.status === "link_sent") {
      portal.say("Check your email: a link to choose a new password is on its way.", "ok");
      finish(
        "Check your email",
        "Open the link in the email on this device to choose a new password. It works once and only for a short time. If nothing arrives within a few minutes, start again or ask your help desk.",
      );
    } else if (result.status === "awaiting_approval") {
      portal.say("Thank you. An approver will review your request.", "ok");
      finish(
        "Waiting for approval",
        "An approver reviews your request. You get an email when it is decided; if it is approved, the email holds the link to choose a new password. You can close this page.",
      );
    } else if (result.status === "more_proof_required") {
      const left = offer(result.methods || []);
      if (left > 0) {
        portal.say("Accepted. One more proof is needed: choose another method.", "ok");
      } else if ((result.methods || []).includes("manager_attestation")) {
        portal.say("Accepted. Your manager or sponsor still has to confirm.", "ok");
      } else {
        portal.say(
          "Accepted, but one more proof is needed and no other method is set up on your account. Your help desk can finish the recovery with you.",
          "warn",
        );
      }
    } else {
      finish("Your request was recorded", "You get an email about what happens next.");
    }
  }

  $("who").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    portal.busy(button, true);
    const answer = await portal.call(API, { body: { identifier: $("identifier").value.trim() } });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(
        portal.words(answer, { invalid_input: "Enter your user name or email address (at most 254 characters)." }),
        "bad",
      );
      return;
    }
    flow = answer.body.flow;
    startedAt = Date.now();
    portal.show("who", false);
    portal.show("how");
    if (offer(answer.body.methods || []) === 0) {
      portal.say("Recovery on this page is not offered here. Your help desk can recover your account.", "warn");
      return;
    }
    portal.say(answer.body.message);
    $("how-title").focus();
  });

  for (const button of document.querySelectorAll("[data-ask]")) {
    button.addEventListener("click", () => {
      portal.clear();
      ask(button.dataset.ask);
    });
  }

  for (const button of document.querySelectorAll("[data-send]")) {
    button.addEventListener("click", async () => {
      if (expired()) return;
      const chosen = button.dataset.send;
      portal.busy(button, true);
      const answer = await portal.call(flowPath(chosen.replace("_", "-")));
      portal.busy(button, false);
      if (!answer.ok) {
        portal.say(portal.words(answer), "bad");
        return;
      }
      portal.say(SENT[chosen], "ok");
      ask(chosen);
    });
  }

  $("use-webauthn").addEventListener("click", async (event) => {
    if (expired()) return;
    const button = event.currentTarget;
    if (!window.PublicKeyCredential) {
      portal.say("This browser cannot use security keys. Use an up-to-date browser, or choose another method.", "bad");
      return;
    }
    portal.show("proof", false);
    portal.say("Touch or unlock your security key when your browser asks.");
    portal.busy(button, true);
    const options = await portal.call(flowPath("webauthn/options"));
    if (!options.ok) {
      portal.busy(button, false);
      portal.say(portal.words(options), "bad");
      return;
    }
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: requestOptions(options.body) });
    } catch (e) {
      portal.busy(button, false);
      portal.say(
        "No security key answered (cancelled, timed out, or not a key you registered). Try again, or choose another method.",
        "bad",
      );
      return;
    }
    await prove("webauthn", JSON.stringify(assertionJSON(credential)), button);
  });

  $("proof").addEventListener("submit", (event) => {
    event.preventDefault();
    prove(method, $("code").value.trim(), event.submitter);
  });
})();
