"""The page a reset link opens. The token travels in the URL fragment, which the
browser never sends to a server, and the page strips it from history at once."""

RESET_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos - choose a new password</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
input,button{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}
.err{color:#a00}.ok{color:#060}</style></head>
<body><h1>Choose a new password</h1>
<p>At least 15 characters (8 if you use a second factor). A passphrase of
uncommon words works well. This link works once.</p>
<form id="f"><label>New password<input id="p" type="password" autocomplete="new-password"
required></label><label>Repeat it<input id="q" type="password" autocomplete="new-password"
required></label><button type="submit">Set password</button></form>
<p id="m" role="status"></p>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
history.replaceState(null, '', location.pathname);
const m = document.getElementById('m');
document.getElementById('f').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const p = document.getElementById('p').value, q = document.getElementById('q').value;
  if (p !== q) { m.className = 'err'; m.textContent = 'The two passwords differ.'; return; }
  const r = await fetch('/api/v1/self-service/reset', {method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({token: token, new_password: p})});
  const b = await r.json();
  if (r.ok) { m.className = 'ok';
    m.textContent = b.temporary_password
      ? 'Your temporary password (shown once; change it at first sign-in): ' + b.temporary_password
      : 'Done. Your new password is being applied; sign in again everywhere.';
    document.getElementById('f').remove(); }
  else { m.className = 'err'; m.textContent = b.error.message; }
});
</script></body></html>
"""
