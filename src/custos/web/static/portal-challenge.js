// /challenge#token=cch_...: the subject answers a help-desk agent's challenge on
// their own device; the agent sees only whether it passed.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");
  const OWN = {
    token_invalid:
      "This link no longer works: the challenge was already answered, replaced or expired. Tell the agent; they can send a new one.",
    token_expired: "This challenge has expired. Tell the agent; they can send a new one.",
  };
  const RESULTS = {
    passed: ["Verified. You can tell the agent you are done.", "ok"],
    failed: ["The code was not accepted, and this challenge is over. The agent has been told.", "bad"],
    retry: ["The code was not accepted. Check it and try again.", "bad"],
  };

  async function show() {
    portal.show("with-link");
    const answer = await portal.call("/api/v1/challenges/lookup", { body: { token } });
    if (!answer.ok) {
      $("prompt").textContent = "";
      portal.say(portal.words(answer, OWN), "bad");
      return;
    }
    $("prompt").textContent =
      answer.body.mode === "totp"
        ? "Enter the current code from your authenticator app."
        : "Enter the code we sent you in a separate message.";
    portal.show("answer");
  }

  $("answer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    portal.busy(button, true);
    const answer = await portal.call("/api/v1/challenges/answer", {
      body: { token, code: $("code").value.trim() },
    });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(portal.words(answer, OWN), "bad");
      return;
    }
    const [text, kind] = RESULTS[answer.body.result] || ["Your answer was recorded.", ""];
    portal.say(text, kind);
    if (answer.body.result !== "retry") portal.show("answer", false);
    else $("code").select();
  });

  if (!token) portal.show("needs-link");
  else show();
})();
