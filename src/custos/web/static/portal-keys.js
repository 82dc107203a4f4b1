// /portal/security-keys: register a security key (WebAuthn) and remove keys.
"use strict";

(() => {
  const $ = portal.byId;

  function cell(...content) {
    const td = document.createElement("td");
    td.append(...content);
    return td;
  }

  function hint(text) {
    const span = document.createElement("span");
    span.className = "hint";
    span.textContent = text;
    return span;
  }

  function removeButton(key) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "danger";
    button.textContent = "Remove";
    button.setAttribute("aria-label", `Remove ${key.label || "security key"}`);
    button.addEventListener("click", async () => {
      portal.busy(button, true);
      const answer = await me.call(`/api/v1/me/methods/${encodeURIComponent(key.id)}/revoke`, {
        body: { reason: "removed by the subject" },
      });
      portal.busy(button, false);
      if (!answer.ok) {
        portal.say(portal.words(answer), "bad");
        return;
      }
      portal.say(`${key.label || "The security key"} was removed: it no longer works.`, "ok");
      load();
    });
    return button;
  }

  async function load() {
    const answer = await me.call("/api/v1/me/methods", { method: "GET" });
    if (!answer.ok) {
      $("keys").replaceChildren();
      return;
    }
    const keys = answer.body.filter((a) => a.active && a.kind === "webauthn");
    if (!keys.length) {
      const tr = document.createElement("tr");
      const td = cell("No security key yet.");
      td.colSpan = 3;
      tr.append(td);
      $("keys").replaceChildren(tr);
      return;
    }
    $("keys").replaceChildren(
      ...keys.map((key) => {
        const tr = document.createElement("tr");
        tr.append(
          cell(key.label || "Security key", hint(`Last used: ${me.when(key.last_used_at)}`)),
          cell(me.when(key.bound_at)),
          cell(removeButton(key)),
        );
        return tr;
      }),
    );
  }

  $("add-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    if (!window.PublicKeyCredential) {
      portal.say("This browser cannot use security keys. Use an up-to-date browser.", "bad");
      return;
    }
    portal.busy(button, true);
    const options = await me.call("/api/v1/me/methods/webauthn/options");
    if (!options.ok) {
      portal.busy(button, false);
      portal.say(portal.words(options), "bad");
      return;
    }
    portal.say("Insert, touch or unlock your security key now.");
    let credential;
    try {
      credential = await navigator.credentials.create({ publicKey: creationOptions(options.body) });
    } catch (e) {
      portal.busy(button, false);
      portal.say(
        "No key was registered (cancelled, timed out, or a key that is already registered). Try again.",
        "bad",
      );
      return;
    }
    const bound = await me.call("/api/v1/me/methods/webauthn", {
      body: { credential: registrationJSON(credential), label: $("key-label").value.trim() },
    });
    portal.busy(button, false);
    if (!bound.ok) {
      portal.say(
        portal.words(bound, {
          proofing_failed: "The key's answer could not be verified. Try again, or use another key.",
        }),
        "bad",
      );
      return;
    }
    me.addFactor("webauthn");
    $("key-label").value = "";
    portal.say("Your security key is registered. We sent a notice to your confirmed email addresses.", "ok");
    load();
  });

  if (me.signedIn()) load();
})();
