// Tasklette: list, labels and my-tasks pages. No build step; loaded with `defer`.
(function () {
  "use strict";

  // The list filters: empty fields stay out of the URL, so a bookmarked view is short
  // and readable; a changed select applies at once.
  document.querySelectorAll("form.filters").forEach(function (form) {
    form.addEventListener("formdata", function (event) {
      var empty = [];
      event.formData.forEach(function (value, name) {
        if (value === "") empty.push(name);
      });
      empty.forEach(function (name) { event.formData.delete(name); });
    });
    // On a phone the filters beyond the search fold away unless some are in use.
    var more = form.querySelector("details.more-filters");
    var phone = window.matchMedia("(max-width: 40rem)");
    if (more && !more.hasAttribute("data-keep-open")) {
      more.open = !phone.matches;
      phone.addEventListener("change", function () { if (!phone.matches) more.open = true; });
    }
    form.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { form.requestSubmit(); });
    });
  });

  // Label colours: a picker beside the #rrggbb text field, kept in step both ways.
  var HEX = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll("input[type=color][data-color-for]").forEach(function (picker) {
    var text = document.getElementById(picker.dataset.colorFor);
    if (!text) return;
    picker.hidden = false;
    picker.addEventListener("input", function () { text.value = picker.value; });
    text.addEventListener("input", function () {
      if (HEX.test(text.value.trim())) picker.value = text.value.trim().toLowerCase();
    });
  });
})();
