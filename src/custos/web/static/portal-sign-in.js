// /portal/sign-in: the subject signs in with the directory password, then the
// second factor they have bound, and lands on the page that sent them here.
"use strict";

(() => {
  const $ = portal.byId;
  let replacement = "";

  function next(body) {
    if (body.replacement_recovery_code) replacement = body.replacement_recovery_code;
    if (body.bind_required) {
      sessionStorage.setItem(me.NOTE, me.BIND_FIRST);
      sessionStorage.setItem(me.AFTER, me.KEYS);
    }
    const target = sessionStorage.getItem(me.AFTER) || "/portal/account";
    sessionStorage.removeItem(me.AFTER);
    if (replacement) {
      // A saved code spent as second factor is replaced: show the new one first.
      portal.show("password-step", false);
      portal.show("factor-step", false);
      $("replacement-code").textContent = replacement;
      $("replacement-continue").href = target;
      portal.show("replacement");
      portal.say("You are signed in.", "ok");
      $("replacement-title").focus();
      return;
    }
    location.assign(target);
  }

  $("password-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    portal.busy(button, true);
    const answer = await portal.call("/api/v1/me/sign-in", {
      body: { identifier: $("identifier").value.trim(), password: $("password").value },
    });
    portal.busy(button, false);
    if (!answer.ok) {
      portal.say(
        portal.words(answer, {
          unauthenticated: "The user name or the password is not right. Check them and try again.",
        }),
        "bad",
        answer.status === 401 ? { href: "/recover", text: "Forgot your password?" } : null,
      );
      return;
    }
    $("password").value = "";
    portal.session.set(answer.body.session, answer.body.second_factors);
    if (!answer.body.second_factor_due) {
      next(answer.body);
      return;
    }
    const factors = answer.body.second_factors;
    me.offerFactors($("factor-method"), factors, factors[0]);
    me.codeFieldFor(factors[0], "factor-code-field", "factor-key-hint");
    portal.show("password-step", false);
    portal.show("factor-step");
    portal.clear();
    $("factor-title").focus();
  });

  $("factor-method").addEventListener("change", (event) => {
    me.codeFieldFor(event.target.value, "factor-code-field", "factor-key-hint");
  });

  $("factor-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    const method = $("factor-method").value;
    portal.busy(button, true);
    const factor = await me.factorAnswer(method, $("factor-code").value.trim());
    if (!factor.ok) {
      portal.busy(button, false);
      portal.say(factor.text, "bad");
      return;
    }
    const answer = await portal.call("/api/v1/me/sign-in/second-factor", {
      session: portal.session.get(),
      body: { method, code: factor.code },
    });
    portal.busy(button, false);
    if (answer.status === 401) {
      portal.session.clear();
      portal.show("factor-step", false);
      portal.show("password-step");
      portal.say("Signing in took too long. Start again with your password.", "bad");
      return;
    }
    if (!answer.ok) {
      portal.say(portal.words(answer), "bad");
      return;
    }
    portal.session.set(answer.body.session, answer.body.second_factors);
    next(answer.body);
  });
})();
