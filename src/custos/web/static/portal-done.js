// /portal/recovery-done: which systems received the new password. Reads the
// progress ticket /reset answered (kept in this tab's sessionStorage) and asks
// /api/v1/self-service/reset/progress until the recovery is finished.
"use strict";

(() => {
  const $ = portal.byId;
  const ticket = sessionStorage.getItem("custos.recovery-progress") || "";
  const STATES = {
    pending: ["Waiting", ""],
    retryable_failure: ["Trying again", "warn"],
    succeeded: ["Updated", "ok"],
    failed: ["Not updated", "bad"],
  };
  const EVERY_MS = 2000;

  function row(system) {
    const tr = document.createElement("tr");
    const [label, kind] = STATES[system.state] || [system.state, ""];
    const badge = document.createElement("span");
    badge.className = kind ? `badge ${kind}` : "badge";
    badge.textContent = label;
    for (const text of [system.system, system.account]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const state = document.createElement("td");
    state.append(badge);
    tr.append(state);
    return tr;
  }

  function summary(body) {
    const systems = body.systems;
    const updated = systems.filter((s) => s.state === "succeeded").length;
    if (!body.finished) {
      portal.say(`Your new password was accepted. ${updated} of ${systems.length} systems updated so far...`);
      return;
    }
    portal.show("next");
    if (body.state === "completed") {
      portal.say(`Done: your new password is set on all ${systems.length} of your systems.`, "ok");
    } else if (body.state === "needs_attention") {
      portal.say(
        `Your new password is set on ${updated} of ${systems.length} systems. The others need a person: the recovery now waits for your help desk, who can see it. Ask them if you need those systems now.`,
        "warn",
      );
    } else {
      portal.say("This recovery ended without updating every system. Ask your help desk.", "warn");
    }
  }

  async function poll() {
    const answer = await portal.call("/api/v1/self-service/reset/progress", { body: { ticket } });
    if (answer.status === 0) {
      portal.say(portal.words(answer) + " This page tries again by itself.", "warn");
      setTimeout(poll, EVERY_MS * 3);
      return;
    }
    if (!answer.ok) {
      portal.say(
        portal.words(answer, {
          token_invalid: "The progress of this recovery cannot be shown here. You get an email when it is finished.",
          token_expired: "This recovery finished a while ago. The email you received tells how it ended.",
        }),
        "warn",
      );
      return;
    }
    portal.show("systems-section");
    $("systems-rows").replaceChildren(...answer.body.systems.map(row));
    summary(answer.body);
    if (!answer.body.finished) setTimeout(poll, EVERY_MS);
  }

  if (!ticket) portal.show("needs-link");
  else poll();
})();
