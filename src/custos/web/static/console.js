// Small console behaviours. Loaded as a file: the pages' CSP allows no inline script.
// Forms marked data-confirm ask before submitting (cancel, deny, disable...).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
