// /portal/contacts: recovery contacts, each confirmed with a code sent to it.
"use strict";

(() => {
  const $ = portal.byId;
  const KINDS = { email: "Email", sms: "Phone (text)" };
  let confirming = null;

  function cell(...content) {
    const td = document.createElement("td");
    td.append(...content);
    return td;
  }

  function button(text, label, kind, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = kind;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", () => action(b));
    return b;
  }

  function askCode(contact) {
    confirming = contact;
    $("confirm-address").textContent = contact.address;
    $("confirm-code").value = "";
    portal.show("confirm-contact");
    $("confirm-title").focus();
  }

  async function remove(contact, b) {
    portal.busy(b, true);
    const answer = await me.call(`/api/v1/me/contacts/${contact.id}`, { method: "DELETE" });
    portal.busy(b, false);
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    portal.say(`${contact.address} was removed.`, "ok");
    load();
  }

  function row(contact) {
    const tr = document.createElement("tr");
    const actions = [];
    if (!contact.confirmed_at) {
      actions.push(button("Enter code", `Enter code sent to ${contact.address}`, "secondary", () => askCode(contact)));
    }
    actions.push(button("Remove", `Remove ${contact.address}`, "danger", (b) => remove(contact, b)));
    const kind = document.createElement("span");
    kind.className = "hint";
    kind.textContent = KINDS[contact.kind] || contact.kind;
    const address = cell(contact.address, kind);
    address.className = "address";
    tr.append(
      address,
      cell(contact.confirmed_at ? `Confirmed ${me.when(contact.confirmed_at)}` : "Waiting for its code"),
      cell(...actions),
    );
    return tr;
  }

  async function load() {
    const answer = await me.call("/api/v1/me/contacts", { method: "GET" });
    if (!answer.ok) {
      if (answer.status !== 401) portal.say(portal.words(answer), "bad");
      return;
    }
    if (!answer.body.length) {
      const tr = document.createElement("tr");
      const td = cell("No contact yet.");
      td.colSpan = 3;
      tr.append(td);
      $("contacts").replaceChildren(tr);
      return;
    }
    $("contacts").replaceChildren(...answer.body.map(row));
  }

  $("add-contact").addEventListener("submit", async (event) => {
    event.preventDefault();
    const b = event.submitter;
    const kind = $("contact-kind").value;
    const address = $("contact-address").value.trim();
    portal.busy(b, true);
    const answer = await me.call("/api/v1/me/contacts", { body: { address, kind } });
    portal.busy(b, false);
    if (!answer.ok) {
      const error = portal.errorOf(answer);
      // The service's own refusals (not an address, already a contact, five
      // already) are plain sentences: show them as they are.
      portal.say(
        error.id === "invalid_input" && error.message !== "the request is not valid"
          ? `That did not work: ${error.message}.`
          : portal.words(answer),
        "bad",
      );
      return;
    }
    $("contact-address").value = "";
    portal.say(`We sent a code to ${address}. Enter it below to confirm the contact.`, "ok");
    await load();
    askCode({ id: answer.body.id, address });
  });

  $("confirm-contact").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!confirming) return;
    const b = event.submitter;
    portal.busy(b, true);
    const answer = await me.call(`/api/v1/me/contacts/${confirming.id}/confirm`, {
      body: { code: $("confirm-code").value.trim() },
    });
    portal.busy(b, false);
    if (!answer.ok) {
      portal.say(
        portal.words(answer, {
          proofing_failed: "That code is not right. Check it and try again (after five wrong codes it stops working).",
        }),
        "bad",
      );
      return;
    }
    portal.say(`${confirming.address} is confirmed.`, "ok");
    confirming = null;
    portal.show("confirm-contact", false);
    load();
  });

  const HINTS = {
    email: "An address you can read when you cannot sign in, for example a private one.",
    sms: "A phone number in international form, for example +49 170 1234567.",
  };
  $("contact-kind").addEventListener("change", (event) => {
    $("contact-hint").textContent = HINTS[event.target.value];
    $("contact-address").type = event.target.value === "sms" ? "tel" : "email";
  });

  $("confirm-cancel").addEventListener("click", () => {
    confirming = null;
    portal.show("confirm-contact", false);
  });

  if (me.signedIn()) load();
})();
