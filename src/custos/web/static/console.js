// Small console behaviours. Loaded as a file: the pages' CSP allows no inline script.
// Forms marked data-confirm ask before submitting (cancel, deny, disable...); so do
// submit buttons marked data-confirm (a form whose buttons do different things).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) {
    return;
  }
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
