// Tasklette: the header's notification bell, kept live by my event stream, and
// @username completion in comment and description boxes. No build step.
(function () {
  "use strict";

  // --- the bell ---------------------------------------------------------------------
  // My stream says the unread count when it opens (and after each reconnect), and
  // again with each batch of new notifications: the bell never asks the server.
  var bell = document.querySelector("[data-bell]");
  if (bell && window.EventSource) {
    var badge = bell.querySelector("[data-bell-count]");
    var show = function (message) {
      var count = JSON.parse(message.data).unread_count;
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = count === 0;
      bell.setAttribute("data-unread", String(count));
      bell.setAttribute("aria-label", count ? "Notifications, " + count + " unread" : "Notifications");
    };
    var source = new EventSource("/api/v1/me/events");
    source.addEventListener("notification.count", show);
    source.addEventListener("notification.created", show);
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // --- @mention completion ----------------------------------------------------------
  // Textareas with data-mention-members='["alice", …]' (the project's members) offer
  // the usernames that start with what follows an "@" before the caret.
  var list = null, target = null, start = 0, active = 0;

  function close() {
    if (list) list.remove();
    list = null;
    target = null;
  }

  function members(textarea) {
    try { return JSON.parse(textarea.getAttribute("data-mention-members") || "[]"); }
    catch (e) { return []; }
  }

  function choose(name) {
    var text = target.value, caret = target.selectionStart;
    var before = text.slice(0, start) + "@" + name + " ";
    target.value = before + text.slice(caret);
    target.setSelectionRange(before.length, before.length);
    target.focus();
    close();
  }

  function highlight(index) {
    var items = list.querySelectorAll("li");
    active = (index + items.length) % items.length;
    items.forEach(function (item, i) { item.setAttribute("aria-selected", String(i === active)); });
  }

  function offer(textarea) {
    var caret = textarea.selectionStart;
    var match = /(^|[^\w@.])@([A-Za-z0-9][A-Za-z0-9_.-]*)?$/.exec(textarea.value.slice(0, caret));
    if (!match) { close(); return; }
    var typed = (match[2] || "").toLowerCase();
    var names = members(textarea).filter(function (name) {
      return name.indexOf(typed) === 0 && name !== typed;
    }).slice(0, 8);
    if (!names.length) { close(); return; }
    if (!list) {
      list = document.createElement("ul");
      list.className = "mention-list";
      list.setAttribute("role", "listbox");
      list.setAttribute("aria-label", "Members to mention");
      textarea.insertAdjacentElement("afterend", list);
    }
    target = textarea;
    start = caret - typed.length - 1;
    list.textContent = "";
    names.forEach(function (name) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.textContent = "@" + name;
      item.addEventListener("mousedown", function (e) { e.preventDefault(); choose(name); });
      list.appendChild(item);
    });
    highlight(0);
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("textarea[data-mention-members]")) offer(e.target);
  });
  document.addEventListener("keydown", function (e) {
    if (!list || e.target !== target) return;
    var items = list.querySelectorAll("li");
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      highlight(active + (e.key === "ArrowDown" ? 1 : -1));
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      choose(items[active].textContent.slice(1));
    } else if (e.key === "Escape") {
      e.stopPropagation();
      close();
    }
  }, true);
  document.addEventListener("focusout", function (e) { if (e.target === target) close(); });
})();
