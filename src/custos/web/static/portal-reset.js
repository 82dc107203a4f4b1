// /reset#token=...: choose the new password. The token comes from the URL
// fragment (never sent to a server by the browser) and leaves the address bar at
// once. While the subject types, the server's own rules rate the candidate
// (/api/v1/self-service/reset/check: zxcvbn with the subject's name and
// addresses, the same verdict as on submit); length and the repeat are checked
// here at every key press.
"use strict";

(() => {
  const $ = portal.byId;
  const token = portal.fragment("token");
  const RESTART = { href: "/recover", text: "Start a new recovery." };
  const OWN = {
    token_invalid:
      "This link no longer works: it was already used, replaced by a newer link, or not copied completely.",
    token_expired: "This link has expired: links work only for a short time.",
  };
  const STRENGTH = ["very weak", "weak", "fair", "strong", "very strong"];
  const PROGRESS = "custos.recovery-progress";
  let minLength = 15;
  let asked = 0;
  let timer = 0;

  function refused(answer) {
    const id = portal.errorOf(answer).id;
    const linkGone = id === "token_invalid" || id === "token_expired";
    portal.say(portal.words(answer, OWN), "bad", linkGone ? RESTART : null);
    if (linkGone) {
      portal.show("choose", false);
      portal.show("temporary", false);
    }
  }

  function count(text) {
    return [...text.normalize("NFKC")].length;
  }

  function localFeedback() {
    const first = $("new-password").value;
    const second = $("repeat-password").value;
    const n = count(first);
    $("length").textContent =
      n >= minLength
        ? `${n} characters: long enough.`
        : `${n} of at least ${minLength} characters.`;
    $("match").textContent = !second ? "" : first === second ? "The two passwords match." : "The two passwords differ.";
  }

  function showVerdict(verdict) {
    $("strength").value = verdict ? verdict.score : 0;
    $("strength-text").textContent = verdict ? STRENGTH[verdict.score] : "not rated yet";
    const items = (verdict ? verdict.reasons : []).map((reason) => {
      const li = document.createElement("li");
      li.textContent = "It " + reason + ".";
      return li;
    });
    if (verdict && verdict.acceptable) {
      const li = document.createElement("li");
      li.className = "met";
      li.textContent = "It meets the rules.";
      items.push(li);
    }
    $("problems").replaceChildren(...items);
  }

  async function rate() {
    const candidate = $("new-password").value;
    const mine = ++asked;
    if (!candidate) {
      showVerdict(null);
      return;
    }
    const answer = await portal.call("/api/v1/self-service/reset/check", {
      body: { token, new_password: candidate },
    });
    if (mine !== asked) return; // a newer candidate was typed meanwhile
    if (answer.ok) showVerdict(answer.body.verdict);
    else refused(answer);
  }

  function done(ticket) {
    sessionStorage.setItem(PROGRESS, ticket);
  }

  async function start() {
    if (!token) {
      portal.show("needs-link");
      return;
    }
    const answer = await portal.call("/api/v1/self-service/reset/check", { body: { token } });
    if (!answer.ok) {
      refused(answer);
      return;
    }
    if (answer.body.action === "temp_password") {
      portal.show("temporary");
      return;
    }
    minLength = answer.body.min_length;
    $("min-length").textContent = String(minLength);
    $("new-password").maxLength = answer.body.max_length;
    portal.show("choose");
    localFeedback();
  }

  $("new-password").addEventListener("input", () => {
    localFeedback();
    clearTimeout(timer);
    timer = setTimeout(rate, 350);
  });
  $("repeat-password").addEventListener("input", localFeedback);
  $("reveal").addEventListener("change", (event) => {
    const type = event.target.checked ? "text" : "password";
    $("new-password").type = type;
    $("repeat-password").type = type;
  });

  $("choose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = $("new-password").value;
    if (password !== $("repeat-password").value) {
      portal.say("The two passwords differ. Type the same password in both fields.", "bad");
      $("repeat-password").focus();
      return;
    }
    const button = event.submitter;
    portal.busy(button, true);
    portal.say("Setting your new password...");
    const answer = await portal.call("/api/v1/self-service/reset", {
      body: { token, new_password: password },
    });
    portal.busy(button, false);
    if (!answer.ok) {
      refused(answer);
      return;
    }
    done(answer.body.progress);
    location.assign("/portal/recovery-done");
  });

  $("get-temporary").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    portal.busy(button, true);
    const answer = await portal.call("/api/v1/self-service/reset", { body: { token } });
    if (!answer.ok) {
      portal.busy(button, false);
      refused(answer);
      return;
    }
    done(answer.body.progress);
    button.remove();
    $("temporary-password").textContent = answer.body.temporary_password;
    portal.show("temporary-shown");
    portal.say("Your temporary password is ready. Note it now: it is not shown again.", "ok");
  });

  start();
})();
