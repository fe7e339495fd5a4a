// Tasklette: behaviour shared by every page. No build step; loaded with `defer`.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A JSON API call with the session cookie and the CSRF token; rejects with the
  // problem's `detail` so callers can show a readable message.
  window.tasklette = {
    // An element with attributes and children; strings become text nodes, so what users
    // typed is never read as HTML (cards.js and rows.js draw with it).
    element: function (tag, attributes, children) {
      var el = document.createElement(tag);
      Object.keys(attributes || {}).forEach(function (name) {
        el.setAttribute(name, attributes[name]);
      });
      (children || []).forEach(function (child) {
        el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      });
      return el;
    },
    api: function (method, path, body) {
      var options = {
        method: method,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
      };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      return fetch(path, options).then(function (response) {
        if (response.status === 204) return null;
        return response.json().then(function (data) {
          if (!response.ok) {
            var error = new Error((data && data.detail) || ("HTTP " + response.status));
            error.status = response.status;
            error.problem = data;
            throw error;
          }
          return data;
        });
      });
    },
    toast: function (message) {
      var box = document.getElementById("toast");
      if (!box) {
        box = document.createElement("div");
        box.id = "toast";
        box.className = "toast";
        box.setAttribute("role", "status");
      }
      // An open modal dialog sits in the top layer: the toast must be inside it to show.
      var host = document.querySelector("dialog[open]") || document.body;
      if (box.parentNode !== host) host.appendChild(box);
      box.textContent = message;
      box.classList.add("visible");
      clearTimeout(box._timer);
      box._timer = setTimeout(function () { box.classList.remove("visible"); }, 5000);
    },
  };

  // Keyboard shortcuts: n new task, / search, ? help, Esc closes dialogs (native).
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=true]") !== null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (document.querySelector("dialog[open]") && event.key !== "Escape") return;
    if (event.key === "?") {
      event.preventDefault();
      document.getElementById("shortcuts").showModal();
    } else if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select && search.select(); }
    } else if (event.key === "n") {
      var add = document.querySelector("[data-new-task]");
      if (add) { event.preventDefault(); add.click(); }
    }
  });
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-shortcuts-open]");
    if (opener) document.getElementById("shortcuts").showModal();
    // Clicking outside an open menu closes it.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // Forms that ask before doing something destructive: data-confirm="…".
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
})();
