// The one-time sign-in link page: the token travels in the URL fragment (never
// sent to a server, never in logs), leaves the address bar and history at once,
// and is posted only when the person clicks (a mail scanner opening the link
// decides nothing).
(() => {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  history.replaceState(null, "", location.pathname);
  const form = document.getElementById("link-form");
  if (!form) return;
  form.elements.token.value = token;
  if (!token) {
    document.getElementById("link-missing").hidden = false;
    form.querySelector("button").disabled = true;
  }
})();
