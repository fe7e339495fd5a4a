// Tasklette task detail (its own page and the board's dialog): htmx answers with
// a form to show again, error messages, local times, Ctrl+Enter to submit.
(function () {
  "use strict";

  function isHtml(xhr) {
    return (xhr.getResponseHeader("content-type") || "").indexOf("text/html") === 0;
  }

  // 422 (a form with its messages) and 409 (the task as it is now) carry a page
  // fragment to show; htmx does not swap error answers unless told to.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if ((xhr.status === 409 || xhr.status === 422) && isHtml(xhr)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Other failures answer with a plain-text message (web/errors.py): show it.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = !isHtml(xhr) && xhr.responseText ? xhr.responseText
      : "Something went wrong (" + xhr.status + "). Reload the page and try again.";
    window.tasklette.toast(text);
  });

  document.addEventListener("htmx:sendError", function () {
    window.tasklette.toast("Tasklette could not be reached. Check your connection and try again.");
  });

  // Times are rendered in UTC; show them in the reader's own time zone.
  function localTimes(root) {
    root.querySelectorAll("time.local[datetime]:not([data-localized])").forEach(function (el) {
      el.setAttribute("data-localized", "");
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.title = el.textContent;
      el.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    });
  }
  localTimes(document);
  document.addEventListener("htmx:afterSettle", function (event) {
    localTimes(event.detail.elt && event.detail.elt.querySelectorAll ? event.detail.elt : document);
  });

  // Ctrl+Enter (Cmd+Enter) in a text area submits its form; so does Enter in the
  // title, a text area only so that long titles wrap.
  document.addEventListener("keydown", function (event) {
    var area = event.target;
    if (event.key !== "Enter" || event.isComposing) return;
    if (!(event.ctrlKey || event.metaKey) && !area.hasAttribute("data-single-line")) return;
    if (area.tagName === "TEXTAREA" && area.form) {
      event.preventDefault();
      area.form.requestSubmit();
    }
  });
})();
