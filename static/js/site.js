// Progressive enhancement only: every page works in full without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js-enabled");

  function syncConditionals(form) {
    form.querySelectorAll("[data-reveals]").forEach(function (radio) {
      var block = document.getElementById(radio.getAttribute("data-reveals"));
      if (!block) { return; }
      // No aria-expanded: ARIA does not allow it on a radio button. aria-controls
      // (in the markup) ties the answer to the questions it shows.
      block.classList.toggle("conditional--hidden", !radio.checked);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-reveals]")) {
        syncConditionals(form);
        form.addEventListener("change", function () { syncConditionals(form); });
      }
      // Ignore a second press of a submit button while the first is on its way; the
      // server also stores one request per form, so this only saves a round trip.
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitting === "true") { event.preventDefault(); return; }
        form.dataset.submitting = "true";
        window.setTimeout(function () { form.dataset.submitting = "false"; }, 5000);
      });
    });

    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      // A link in the summary moves focus to its field, scrolling the field's label
      // into view rather than hiding it under the top edge.
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[href^='#']");
        if (!link) { return; }
        var input = document.getElementById(link.getAttribute("href").slice(1));
        if (!input) { return; }
        event.preventDefault();
        var container = input.closest("fieldset") || input.closest(".field") || input;
        container.scrollIntoView();
        input.focus({ preventScroll: true });
      });
    }
  });
})();
