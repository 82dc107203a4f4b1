// WebAuthn's binary fields <-> the base64url JSON py_webauthn reads and writes.
// Loaded as a file by the pages that use a security key (no inline script).
"use strict";

function unb64(s) {
  s = s.replace(/-/g, "+").replace(/_/g, "/");
  s += "=".repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function b64(buf) {
  let s = "";
  for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Options for navigator.credentials.get() from the server's JSON.
function requestOptions(o) {
  return {
    ...o,
    challenge: unb64(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })),
  };
}

// Options for navigator.credentials.create() from the server's JSON.
function creationOptions(o) {
  return {
    ...o,
    challenge: unb64(o.challenge),
    user: { ...o.user, id: unb64(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })),
  };
}

// An assertion (credentials.get) as JSON.
function assertionJSON(c) {
  const r = c.response;
  const out = {
    clientDataJSON: b64(r.clientDataJSON),
    authenticatorData: b64(r.authenticatorData),
    signature: b64(r.signature),
  };
  if (r.userHandle) out.userHandle = b64(r.userHandle);
  return {
    id: c.id,
    rawId: b64(c.rawId),
    type: c.type,
    response: out,
    authenticatorAttachment: c.authenticatorAttachment || undefined,
    clientExtensionResults: c.getClientExtensionResults(),
  };
}

// A new credential (credentials.create) as JSON.
function registrationJSON(c) {
  return {
    id: c.id,
    rawId: b64(c.rawId),
    type: c.type,
    response: {
      clientDataJSON: b64(c.response.clientDataJSON),
      attestationObject: b64(c.response.attestationObject),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
    authenticatorAttachment: c.authenticatorAttachment || undefined,
    clientExtensionResults: c.getClientExtensionResults(),
  };
}
