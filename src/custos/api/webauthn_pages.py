"""Pages where the subject's browser answers with a security key.

* ``/webauthn#link=cwl_...``: the help-desk link. The link travels in the URL
  fragment (never sent to a server), is stripped from history at once and used
  only on a click, so a mail scanner opening it decides nothing. The browser asks
  for request options, lets the key answer and posts the assertion; the page
  says in plain words whether it passed.
* ``/recover``: the subject's own self-service recovery (identifier, then an
  emailed code or the security key, then the reset link by email)."""

from __future__ import annotations

#: base64url <-> bytes and the JSON form of a PublicKeyCredential py_webauthn reads.
WEBAUTHN_JS = """
function unb64(s) { s = s.replace(/-/g, '+').replace(/_/g, '/');
  s += '='.repeat((4 - s.length % 4) % 4);
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)); }
function b64(buf) { let s = ''; for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
  return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); }
function requestOptions(o) {
  return {...o, challenge: unb64(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({...c, id: unb64(c.id)}))}; }
function assertionJSON(c) {
  const r = c.response, out = {clientDataJSON: b64(r.clientDataJSON),
    authenticatorData: b64(r.authenticatorData), signature: b64(r.signature)};
  if (r.userHandle) out.userHandle = b64(r.userHandle);
  return {id: c.id, rawId: b64(c.rawId), type: c.type, response: out,
    authenticatorAttachment: c.authenticatorAttachment || undefined,
    clientExtensionResults: c.getClientExtensionResults()}; }
"""

WEBAUTHN_LINK_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Custos - confirm with your security key</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0}.err{color:#a00}.ok{color:#060}</style>
</head><body>
<h1>Confirm your recovery with your security key</h1>
<p>The help desk is recovering your account and asked you to confirm it is you.
Press the button, then touch or unlock the security key you registered with us.</p>
<p>This link works once and only for a few minutes. If you did not contact the help
desk, do not continue: call security instead.</p>
<button id="go" type="button">Use my security key</button>
<p id="m" role="status"></p>
<script>
const link = new URLSearchParams(location.hash.slice(1)).get('link') || '';
history.replaceState(null, '', location.pathname);
"""
    + WEBAUTHN_JS
    + """
const m = document.getElementById('m'), go = document.getElementById('go');
function say(text, ok) { m.className = ok ? 'ok' : 'err'; m.textContent = text; }
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body)});
  let b = {}; try { b = await r.json(); } catch (e) { /* not JSON */ }
  return [r.ok, b];
}
const EXPIRED = 'This link is no longer valid: it was already used or it expired. ' +
  'Ask the help desk for a new one.';
function refused(b) {
  const id = b.error ? b.error.id : '';
  if (id === 'token_invalid') return EXPIRED;
  if (id === 'proofing_failed') return 'Your security key did not confirm this recovery. ' +
    'You can try again; the help desk sees that this attempt failed.';
  return b.error ? b.error.message : 'Something went wrong; try again later.';
}
if (!link) { say('This page needs the link from your email. Open the link exactly as sent.');
  go.disabled = true; }
else if (!window.PublicKeyCredential) {
  say('This browser cannot use security keys. Open the link in an up-to-date browser.');
  go.disabled = true; }
go.addEventListener('click', async () => {
  go.disabled = true; say('Waiting for your security key...', true);
  const [ok, options] = await post('/api/v1/self-service/webauthn-links/options', {link: link});
  if (!ok) { say(refused(options)); return; }
  let credential;
  try { credential = await navigator.credentials.get({publicKey: requestOptions(options)}); }
  catch (e) { say('No security key answered (cancelled, timed out, or not the key you ' +
    'registered). Press the button to try again.'); go.disabled = false; return; }
  const [passed, b] = await post('/api/v1/self-service/webauthn-links/proof',
    {link: link, credential: assertionJSON(credential)});
  if (passed) { say('Confirmed. Your security key answered; you can tell the help desk ' +
    'you are done.', true); go.remove(); return; }
  say(refused(b));
  if (b.error && b.error.id === 'proofing_failed') go.disabled = false;
});
</script></body></html>
"""
)

#: The subject's own self-service recovery: identifier, then an emailed code or
#: the security key, then "check your email" for the reset link. Every answer
#: reads the same for known and unknown accounts (R-19).
RECOVER_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos - recover your account</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}
button,input{font-size:1rem;padding:.5rem 1rem;margin:.25rem 0}[hidden]{display:none}
.err{color:#a00}.ok{color:#060}</style></head><body>
<h1>Recover your account</h1>
<form id="who"><label>User name or email <input id="id" autocomplete="username" required>
</label> <button type="submit">Continue</button></form>
<div id="how" hidden><p>Prove it is you with one of your methods.</p>
<button id="key" type="button">Use my security key</button>
<button id="send" type="button">Email me a code</button>
<form id="code" hidden><label>Code from the email <input id="c" inputmode="numeric"
autocomplete="one-time-code" required></label> <button type="submit">Verify</button></form></div>
<p id="m" role="status"></p>
<script>"""
    + WEBAUTHN_JS
    + """
const $ = (id) => document.getElementById(id);
let flow = '';
function say(text, ok) { $('m').className = ok ? 'ok' : 'err'; $('m').textContent = text; }
async function post(path, body) {
  // An operation that takes no body refuses one: send none when there is none.
  const r = await fetch(path, body === undefined ? {method: 'POST'} : {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  let b = {}; try { b = await r.json(); } catch (e) { /* not JSON */ }
  return [r.ok, b];
}
const base = () => '/api/v1/self-service/recoveries/' + encodeURIComponent(flow);
const DONE = {link_sent: 'Check your email: a link to choose a new password is on its way.',
  awaiting_approval: 'Thank you. An approver will review your request; you will get an ' +
    'email when it is decided.',
  more_proof_required: 'Accepted. One more proof is needed: choose another method.'};
async function prove(method, code) {
  const [ok, b] = await post(base() + '/proofs', {method: method, code: code});
  if (!ok) { say(b.error ? b.error.message : 'Something went wrong; try again later.'); return; }
  say(DONE[b.status] || 'Your request was recorded.', true);
  if (b.status !== 'more_proof_required') $('how').remove();
}
$('who').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const [ok, b] = await post('/api/v1/self-service/recoveries', {identifier: $('id').value});
  if (!ok) { say(b.error ? b.error.message : 'Something went wrong; try again later.'); return; }
  flow = b.flow; $('who').remove(); $('how').hidden = false; say(b.message, true);
});
$('send').addEventListener('click', async () => {
  await post(base() + '/email-code');
  $('code').hidden = false; say('If a confirmed email address is on file, a code is on its way.',
    true);
});
$('code').addEventListener('submit', (ev) => { ev.preventDefault(); prove('email_code',
  $('c').value); });
$('key').addEventListener('click', async () => {
  if (!window.PublicKeyCredential) { say('This browser cannot use security keys.'); return; }
  const [ok, o] = await post(base() + '/webauthn/options');
  if (!ok) { say(o.error ? o.error.message : 'Something went wrong; try again later.'); return; }
  let c;
  try { c = await navigator.credentials.get({publicKey: requestOptions(o)}); }
  catch (e) { say('No security key answered (cancelled, timed out, or not a key you ' +
    'registered). Try again or use another method.'); return; }
  await prove('webauthn', JSON.stringify(assertionJSON(c)));
});
</script></body></html>
"""
)
