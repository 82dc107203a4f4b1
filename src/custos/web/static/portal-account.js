// /portal/account: what the signed-in subject has set up, and the history of
// every method bound to the account.
"use strict";

(() => {
  const $ = portal.byId;
  const KINDS = { totp: "Authenticator app", webauthn: "Security key", recovery_codes: "Saved recovery codes" };

  function cell(text, note) {
    const td = document.createElement("td");
    td.textContent = text;
    if (note) {
      const span = document.createElement("span");
      span.className = "hint";
      span.textContent = note;
      td.append(span);
    }
    return td;
  }

  function summarise(kind, active) {
    const mine = active.filter((a) => a.kind === kind);
    const none = { totp: "Not set up", webauthn: "None yet", recovery_codes: "None yet" }[kind];
    $(`summary-${kind}`).textContent = !mine.length
      ? none
      : kind === "webauthn"
        ? `${mine.length} registered`
        : `Set up ${me.when(mine[0].bound_at)}`;
  }

  async function load() {
    const methods = await me.call("/api/v1/me/methods", { method: "GET" });
    if (!methods.ok) {
      portal.say(portal.words(methods), "bad");
      return;
    }
    const all = methods.body;
    const active = all.filter((a) => a.active);
    for (const kind of Object.keys(KINDS)) summarise(kind, active);
    $("history").replaceChildren(
      ...all.map((a) => {
        const tr = document.createElement("tr");
        tr.append(
          cell(KINDS[a.kind] || a.kind, a.label),
          cell(me.when(a.bound_at), `Last used: ${me.when(a.last_used_at)}`),
          cell(a.active ? "In use" : `Removed ${me.when(a.revoked_at)}`),
        );
        return tr;
      }),
    );
    const contacts = await me.call("/api/v1/me/contacts", { method: "GET" });
    if (contacts.ok) {
      const confirmed = contacts.body.filter((c) => c.confirmed_at).length;
      const waiting = contacts.body.length - confirmed;
      $("summary-contacts").textContent =
        `${confirmed} confirmed` + (waiting ? `, ${waiting} waiting for confirmation` : "");
    }
  }

  if (me.signedIn()) load();
})();
