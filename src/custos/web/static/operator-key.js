// Security keys (WebAuthn) on the console's sign-in and account pages. A form
// marked data-key="create" registers a key, data-key="get" answers with one:
// on submit the script asks data-options for the options (POST, with the form's
// CSRF token), lets the browser talk to the key, puts the answer in the form's
// hidden "credential" or "response" field (and "handle" when the options came
// with one) and submits the form.
(() => {
  const unb64 = (s) => {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    s += "=".repeat((4 - (s.length % 4)) % 4);
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  };
  const b64 = (buf) => {
    let s = "";
    for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const creationOptions = (o) => ({
    ...o,
    challenge: unb64(o.challenge),
    user: { ...o.user, id: unb64(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: unb64(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })),
  });
  const created = (c) => ({
    id: c.id, rawId: b64(c.rawId), type: c.type,
    response: {
      clientDataJSON: b64(c.response.clientDataJSON),
      attestationObject: b64(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
    clientExtensionResults: c.getClientExtensionResults(),
  });
  const asserted = (c) => {
    const r = c.response;
    const response = {
      clientDataJSON: b64(r.clientDataJSON),
      authenticatorData: b64(r.authenticatorData),
      signature: b64(r.signature),
    };
    if (r.userHandle) response.userHandle = b64(r.userHandle);
    return { id: c.id, rawId: b64(c.rawId), type: c.type, response,
      clientExtensionResults: c.getClientExtensionResults() };
  };
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.key) return;
    event.preventDefault();
    const status = form.querySelector("[data-key-status]");
    const say = (text) => { if (status) status.textContent = text; };
    if (!window.PublicKeyCredential) { say("This browser cannot use security keys."); return; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("Touch or unlock your security key...");
    try {
      const answer = await fetch(form.dataset.options, {
        method: "POST",
        headers: { "X-CSRF-Token": form.elements.csrf.value },
      });
      if (!answer.ok) throw new Error("options");
      const body = await answer.json();
      let result;
      if (form.dataset.key === "create") {
        result = created(await navigator.credentials.create({ publicKey: creationOptions(body.options) }));
        form.elements.credential.value = JSON.stringify(result);
      } else {
        result = asserted(await navigator.credentials.get({ publicKey: requestOptions(body.options) }));
        form.elements.response.value = JSON.stringify(result);
      }
      if (body.handle && form.elements.handle) form.elements.handle.value = body.handle;
      form.submit();
    } catch (e) {
      say("No security key answered (cancelled, timed out, or not a registered key). Try again.");
      button.disabled = false;
    }
  });
})();
