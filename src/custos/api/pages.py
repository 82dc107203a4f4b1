"""The attester's and the subject's pages for assisted proofing. Tokens travel
in the URL fragment (never sent to a server), are stripped from history at once
and posted only on a click, so mail scanners opening links decide nothing."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos - {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
button,input{{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0}}
th{{text-align:left;padding-right:1rem}}
.err{{color:#a00}}.ok{{color:#060}}</style></head><body>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
history.replaceState(null, '', location.pathname);
async function post(path, body) {{
  const r = await fetch(path, {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify(body)}});
  return [r.ok, await r.json()];
}}
function say(text, ok) {{ const m = document.getElementById('m'); m.className = ok ? 'ok' : 'err';
  m.textContent = text; }}
</script>
"""

ATTEST_PAGE = (
    _HEAD.format(title="confirm a recovery request")
    + """
<h1>Confirm a recovery request</h1>
<table id="t"></table>
<p>Attest only if you have confirmed with this person, in person or on a number you
already know, that they asked for this recovery. If you did not expect it, refuse:
security will be told. You will never be asked for a password or a code.</p>
<button id="a" type="button">Attest</button> <button id="r" type="button">Refuse</button>
<p id="m" role="status"></p>
<script>
(async () => {
  const [ok, b] = await post('/api/v1/attestations/lookup', {token: token});
  if (!ok) { say(b.error.message, false); document.getElementById('a').disabled = true;
    document.getElementById('r').disabled = true; return; }
  const rows = [['Case', b.case], ['Who asks', b.subject], ['You are their', b.relation],
    ['Channel', b.channel], ['Reason', b.reason], ['Requested', b.requested_at]];
  const t = document.getElementById('t');
  for (const [k, v] of rows) { const tr = t.insertRow(); const th = document.createElement('th');
    th.textContent = k; tr.appendChild(th); tr.insertCell().textContent = v; }
})();
for (const [id, decision] of [['a', 'attest'], ['r', 'refuse']]) {
  document.getElementById(id).addEventListener('click', async () => {
    const [ok, b] = await post('/api/v1/attestations/' + decision, {token: token});
    say(ok ? 'Thank you, your answer was recorded.' : b.error.message, ok);
    document.getElementById('a').disabled = true; document.getElementById('r').disabled = true;
  });
}
</script></body></html>
"""
)

CHALLENGE_PAGE = (
    _HEAD.format(title="verify for the help desk")
    + """
<h1>Verify for the help desk</h1>
<p id="p">Loading...</p>
<form id="f"><label>Code <input id="c" inputmode="numeric" autocomplete="one-time-code"
required></label> <button type="submit">Verify</button></form>
<p>Type the code here only. Never read it out to anyone, including the agent.</p>
<p id="m" role="status"></p>
<script>
(async () => {
  const [ok, b] = await post('/api/v1/challenges/lookup', {token: token});
  const p = document.getElementById('p');
  if (!ok) { p.textContent = b.error.message; document.getElementById('f').remove(); return; }
  p.textContent = b.mode === 'totp'
    ? 'Enter the current code from your authenticator app.'
    : 'Enter the code we sent you in a separate message.';
})();
document.getElementById('f').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const [ok, b] = await post('/api/v1/challenges/answer',
    {token: token, code: document.getElementById('c').value});
  if (!ok) { say(b.error.message, false); return; }
  const texts = {passed: 'Verified. You can tell the agent you are done.',
    failed: 'The code was not accepted. The agent has been told.',
    retry: 'The code was not accepted; try again.'};
  say(texts[b.result], b.result === 'passed');
  if (b.result !== 'retry') document.getElementById('f').remove();
});
</script></body></html>
"""
)


def page(html: str) -> HTMLResponse:
    """``html`` with the headers every token page gets: no caching, a strict CSP."""
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
        },
    )
