// Shared behaviour of the subjects' pages (docs/console.md, "Self-service portal").
// Loaded as a file: the pages' CSP allows no inline script. Every page script
// uses the one global `portal` below.
"use strict";

const portal = (() => {
  const byId = (id) => document.getElementById(id);

  // A value from the URL fragment (#token=...). The browser never sends the
  // fragment to a server; it is read once and removed from the address bar and
  // the history at once, so it is neither bookmarked nor shown over a shoulder.
  function fragment(name) {
    const value = new URLSearchParams(location.hash.slice(1)).get(name) || "";
    if (location.hash) history.replaceState(null, "", location.pathname);
    return value.trim();
  }

  // Call the JSON API. Resolves to {ok, status, body}; a network failure is
  // status 0. `session` is a subject session token (the /me API).
  async function call(path, { body, session, method = "POST" } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (session) headers.Authorization = "Bearer " + session;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (e) {
      return { ok: false, status: 0, body: {} };
    }
    let parsed = {};
    try {
      parsed = await response.json();
    } catch (e) {
      // 204, or not JSON: nothing to read
    }
    return { ok: response.ok, status: response.status, body: parsed };
  }

  function errorOf(answer) {
    return (answer.body && answer.body.error) || { id: "", message: "", details: {} };
  }

  function wait(seconds) {
    const s = Number(seconds) || 60;
    if (s < 90) return `${s} seconds`;
    const minutes = Math.ceil(s / 60);
    return minutes === 1 ? "a minute" : `${minutes} minutes`;
  }

  // Plain words for a refused answer, always with what to do next. `own` maps
  // error ids to the page's own words (a link page knows what its link was for).
  function words(answer, own = {}) {
    const error = errorOf(answer);
    if (own[error.id]) return own[error.id];
    if (answer.status === 0) {
      return "Custos could not be reached. Check your internet connection, then try again.";
    }
    const details = error.details || {};
    switch (error.id) {
      case "throttled":
        return details.locked
          ? "This method is locked after too many failed attempts. Use another method, or ask your help desk."
          : `Too many attempts. Wait ${wait(details.retry_after_seconds)}, then try again.`;
      case "proofing_failed":
        return "That was not accepted. Check it and try again, or choose another method.";
      case "token_invalid":
        return "This link no longer works: it was already used, replaced by a newer one, or not copied completely.";
      case "token_expired":
        return "This link has expired.";
      case "secret_link_invalid":
        return "This link no longer works: the value was already shown once, the link lapsed, or a newer rotation replaced it (error id secret_link_invalid). If you did not see the value, ask your help desk for a new rotation.";
      case "tap_link_invalid":
        return "This link no longer works: the temporary access pass was already shown once, it lapsed, or it was withdrawn (error id tap_link_invalid). If you did not see it, ask your help desk.";
      case "unauthenticated":
        return "You are signed out (your session ended). Sign in again.";
      case "reauthentication_required":
        return "To make this change, confirm it is you: enter your password again.";
      case "password_rejected":
        return "This password cannot be used: it " + (details.reasons || []).join("; it ") + ".";
      case "code_voided":
        return "This confirmation code was tried too many times and no longer works. Remove the address and add it again to get a new code.";
      case "sms_blocked":
        return "Text messages to your numbers are paused after a recent SIM change reported by your carrier. Use another method, or ask your help desk.";
      case "invalid_input":
        return "Please check what you entered, then try again.";
      case "not_found":
        return "This item no longer exists. Reload the page to see what is there now.";
      case "not_authorized":
        return "That was not accepted. Check what you entered and try again.";
      case "phishing_resistant_bind_required":
        return "Your account was recovered through the help desk: add a security key first. Until then nothing else can be changed.";
      case "already_decided":
        return "This was already decided; nothing more to do here.";
      default: {
        const ref = error.id ? ` (error id ${error.id})` : ` (status ${answer.status})`;
        return `Custos could not finish this just now${ref}. Try again in a few minutes; if it keeps happening, contact your help desk.`;
      }
    }
  }

  // Put a message in a live region (default #status). kind: "ok", "bad",
  // "warn" or "" (neutral); `link` ({href, text}) adds what to do next.
  function say(text, kind = "", link = null, region = "status") {
    const box = document.createElement("div");
    box.className = kind ? `notice ${kind}` : "notice";
    const p = document.createElement("p");
    p.textContent = text;
    if (link) {
      p.append(" ");
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      p.append(a);
    }
    box.append(p);
    byId(region).replaceChildren(box);
  }

  function clear(region = "status") {
    byId(region).replaceChildren();
  }

  function show(id, visible = true) {
    byId(id).hidden = !visible;
  }

  // A button that does nothing while its work runs (no double submissions).
  function busy(button, running) {
    if (button) button.disabled = running;
  }

  // The pattern of a one-time link page (#token=... from an email): without a
  // token, #needs-link shows and nothing else happens; with one, `section`
  // shows and each click on the button `button` posts {token} to `path`, the
  // button disabled meanwhile (no double submissions). A good answer goes to
  // `done(body, button)` (the button stays disabled: the link is spent); a
  // refused one is said in plain words (`own`: the page's words for some
  // error ids), the button works again, and `refused(answer, button)` runs
  // when given. Nothing is posted before the click.
  function linkAction({ button, path, done, own = {}, section = "with-link", refused = null }) {
    const token = fragment("token");
    if (!token) {
      show("needs-link");
      return;
    }
    show(section);
    byId(button).addEventListener("click", async (event) => {
      const clicked = event.currentTarget;
      busy(clicked, true);
      const answer = await call(path, { body: { token } });
      if (answer.ok) {
        done(answer.body, clicked);
        return;
      }
      busy(clicked, false);
      say(words(answer, own), "bad");
      if (refused) refused(answer, clicked);
    });
  }

  // The subject's session for the /me API: in this tab's sessionStorage (never
  // a cookie: the API authenticates with a Bearer token, and the tab forgets it
  // when it closes).
  const SESSION = "custos.subject-session";
  const FACTORS = "custos.second-factors";
  const session = {
    get: () => sessionStorage.getItem(SESSION) || "",
    set(token, factors) {
      sessionStorage.setItem(SESSION, token);
      if (factors) sessionStorage.setItem(FACTORS, JSON.stringify(factors));
    },
    factors: () => JSON.parse(sessionStorage.getItem(FACTORS) || "[]"),
    clear() {
      sessionStorage.removeItem(SESSION);
      sessionStorage.removeItem(FACTORS);
    },
  };

  return { byId, fragment, call, errorOf, words, say, clear, show, busy, linkAction, session };
})();
