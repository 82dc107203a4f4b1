// The signed-in subject's pages: the /me API with the session token kept in
// this tab's sessionStorage (the API takes a Bearer token, never a cookie).
// Every change of a method or contact needs a fresh full sign-in: when
// the API answers reauthentication_required, the re-authentication form of the
// page (portal/_reauth.html) asks for the password and second factor, and the
// change is sent again.
"use strict";

const me = (() => {
  const $ = portal.byId;
  const AFTER = "custos.after-sign-in";
  const NOTE = "custos.sign-in-note";
  const KEYS = "/portal/security-keys";
  const BIND_FIRST =
    "Your account was recovered through the help desk: add a security key first. Until then nothing else can be changed.";
  const FACTOR_NAMES = {
    totp: "Authenticator app code",
    recovery_code: "Saved recovery code",
    webauthn: "Security key",
  };

  // To the sign-in page, coming back here afterwards; `note` is shown there.
  function toSignIn(note) {
    portal.session.clear();
    sessionStorage.setItem(AFTER, location.pathname);
    if (note) sessionStorage.setItem(NOTE, note);
    location.replace("/portal/sign-in");
  }

  function signedIn() {
    if (portal.session.get()) return true;
    toSignIn("");
    return false;
  }

  // The answer of a second factor for `method`: the code typed, or for a
  // security key the assertion JSON of the session's sign-in challenge.
  async function factorAnswer(method, code) {
    if (method !== "webauthn") return { ok: true, code };
    if (!window.PublicKeyCredential) {
      return { ok: false, text: "This browser cannot use security keys. Use another factor or browser." };
    }
    const options = await portal.call("/api/v1/me/webauthn/assertion-options", {
      session: portal.session.get(),
    });
    if (!options.ok) return { ok: false, text: portal.words(options) };
    try {
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options.body) });
      return { ok: true, code: JSON.stringify(assertionJSON(credential)) };
    } catch (e) {
      return { ok: false, text: "No security key answered (cancelled or timed out). Try again." };
    }
  }

  // Fill a <select> with the factors the subject has, strongest first.
  function offerFactors(select, factors, preferred) {
    select.replaceChildren(
      ...factors.map((method) => {
        const option = document.createElement("option");
        option.value = method;
        option.textContent = FACTOR_NAMES[method] || method;
        option.selected = method === preferred;
        return option;
      }),
    );
  }

  function codeFieldFor(method, field, hint) {
    $(field).hidden = method === "webauthn";
    $(hint).hidden = method !== "webauthn";
  }

  // The re-authentication form: resolves true once the session is fresh again,
  // false when the subject cancels.
  function reauthenticate(required) {
    const form = $("reauth");
    const factors = portal.session.factors();
    const preferred = required === 3 && factors.includes("webauthn") ? "webauthn" : factors[0];
    portal.show("reauth-factor", factors.length > 0);
    offerFactors($("reauth-method"), factors, preferred);
    codeFieldFor(preferred, "reauth-code-field", "reauth-key-hint");
    $("reauth-password").value = "";
    $("reauth-code").value = "";
    portal.clear("reauth-status");
    $("reauth-method").onchange = () =>
      codeFieldFor($("reauth-method").value, "reauth-code-field", "reauth-key-hint");
    form.hidden = false;
    $("reauth-title").focus();
    return new Promise((resolve) => {
      const finish = (value) => {
        form.hidden = true;
        form.removeEventListener("submit", submit);
        $("reauth-cancel").removeEventListener("click", cancel);
        resolve(value);
      };
      const cancel = () => finish(false);
      const submit = async (event) => {
        event.preventDefault();
        const button = event.submitter;
        const method = factors.length ? $("reauth-method").value : null;
        portal.busy(button, true);
        const factor = method ? await factorAnswer(method, $("reauth-code").value.trim()) : { ok: true, code: "" };
        if (!factor.ok) {
          portal.busy(button, false);
          portal.say(factor.text, "bad", null, "reauth-status");
          return;
        }
        const answer = await portal.call("/api/v1/me/reauthenticate", {
          session: portal.session.get(),
          body: { password: $("reauth-password").value, method, code: factor.code },
        });
        portal.busy(button, false);
        if (answer.status === 401) {
          finish(false);
          toSignIn("Your session ended. Sign in again to continue.");
          return;
        }
        if (portal.errorOf(answer).id === "not_authorized") {
          portal.say(
            "The password or the second factor was not accepted. Check them and try again.",
            "bad",
            null,
            "reauth-status",
          );
          return;
        }
        const details = portal.errorOf(answer).details || {};
        if (portal.errorOf(answer).id === "invalid_input" && Array.isArray(details.methods)) {
          // The factors changed since sign-in (one added or removed): offer the current ones.
          portal.session.set(portal.session.get(), details.methods);
          factors.splice(0, factors.length, ...details.methods);
          portal.show("reauth-factor", factors.length > 0);
          offerFactors($("reauth-method"), factors, factors[0]);
          codeFieldFor(factors[0], "reauth-code-field", "reauth-key-hint");
          portal.say("Choose one of your second factors, then confirm.", "warn", null, "reauth-status");
          return;
        }
        if (!answer.ok) {
          portal.say(portal.words(answer), "bad", null, "reauth-status");
          return;
        }
        portal.session.set(answer.body.session, answer.body.second_factors);
        finish(true);
      };
      form.addEventListener("submit", submit);
      $("reauth-cancel").addEventListener("click", cancel);
    });
  }

  // Call the /me API as the signed-in subject. A session that ended leads to
  // the sign-in page; a change that needs a fresh sign-in asks for it and is
  // sent once more.
  async function call(path, options = {}) {
    let answer = await portal.call(path, { ...options, session: portal.session.get() });
    if (answer.status === 403 && portal.errorOf(answer).id === "reauthentication_required") {
      const details = portal.errorOf(answer).details || {};
      if (!(await reauthenticate(details.required_aal))) return answer;
      answer = await portal.call(path, { ...options, session: portal.session.get() });
    }
    if (answer.status === 401) toSignIn("Your session ended. Sign in again to continue.");
    if (portal.errorOf(answer).id === "phishing_resistant_bind_required" && location.pathname !== KEYS) {
      sessionStorage.setItem(NOTE, BIND_FIRST);
      location.replace(KEYS);
    }
    return answer;
  }

  // A second factor the subject just bound is one re-authentication may ask for.
  function addFactor(method) {
    const factors = portal.session.factors();
    if (!factors.includes(method)) portal.session.set(portal.session.get(), [...factors, method]);
  }

  function when(iso) {
    if (!iso) return "never";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  // A note left by the page that sent the subject here (session ended, signed out...).
  const note = sessionStorage.getItem(NOTE);
  if (note && $("status")) {
    sessionStorage.removeItem(NOTE);
    portal.say(note, "warn");
  }

  const signOut = $("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      await portal.call("/api/v1/me/sign-out", { session: portal.session.get() });
      portal.session.clear();
      sessionStorage.setItem(NOTE, "You are signed out.");
      location.assign("/portal/sign-in");
    });
  }

  return {
    AFTER,
    NOTE,
    KEYS,
    BIND_FIRST,
    FACTOR_NAMES,
    signedIn,
    call,
    factorAnswer,
    offerFactors,
    codeFieldFor,
    addFactor,
    when,
  };
})();
