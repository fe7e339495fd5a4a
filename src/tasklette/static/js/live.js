// Tasklette live updates: a project page follows the project's event stream (SSE).
//
// Each event is re-dispatched on `document` as a `tasklette:event` CustomEvent, so the
// page's own script (board.js) can apply it. Shared here: the connection and its
// indicator (live / reconnecting), who else is viewing, the open task's detail, the
// list view and the activity page. A dropped stream resumes after the last event it
// delivered (the browser sends Last-Event-ID; after a hard failure we pass ?after=).
(function () {
  "use strict";

  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource) return;
  var projectId = root.dataset.projectId;
  var me = Number(root.dataset.me);
  var people = JSON.parse(root.dataset.people || "{}");
  var lastId = Number(root.dataset.after) || 0;
  var statusText = root.querySelector("[data-live-text]");
  var presence = root.querySelector("[data-presence]");
  var source = null;
  var finished = false;
  var retryDelay = 1000;

  var KINDS = [
    "task.created", "task.updated", "task.moved", "task.deleted", "task.label_added",
    "task.label_removed", "comment.created", "comment.updated", "comment.deleted",
    "column.created", "column.updated", "column.deleted", "label.created", "label.updated",
    "label.deleted", "member.added", "member.updated", "member.removed", "project.updated",
    "project.deleted", "attachment.added", "attachment.deleted",
  ];

  function setState(state, text) {
    root.dataset.state = state;
    statusText.textContent = text;
  }

  function nameOf(userId) {
    return people[userId] || "Someone";
  }

  function initials(name) {
    var words = name.split(/\s+/).filter(Boolean).slice(0, 2);
    return words.map(function (w) { return w[0]; }).join("").toUpperCase() || "?";
  }

  function showPresence(userIds) {
    presence.textContent = "";
    userIds.filter(function (id) { return id !== me; }).forEach(function (id) {
      var item = document.createElement("li");
      item.className = "initials";
      item.title = nameOf(id) + " is viewing this board";
      item.textContent = initials(nameOf(id));
      presence.appendChild(item);
    });
    presence.hidden = presence.children.length === 0;
  }

  function deliver(message) {
    var event = JSON.parse(message.data);
    if (event.id <= lastId) return;  // replayed after a reconnect: already applied
    lastId = event.id;
    if (event.kind === "member.added" || event.kind === "member.updated") {
      people[event.payload.member.id] =
        event.payload.member.display_name || event.payload.member.username;
    }
    event.actorName = nameOf(event.actor_id);
    event.mine = event.actor_id === me;
    document.dispatchEvent(new CustomEvent("tasklette:event", { detail: event }));
  }

  function connect() {
    source = new EventSource("/api/v1/projects/" + projectId +
                             "/events?presence=true&after=" + lastId);
    source.onopen = function () {
      retryDelay = 1000;
      setState("live", "Live");
    };
    source.onerror = function () {
      if (finished) return;
      setState("reconnecting", "Reconnecting…");
      // The browser retries a dropped connection itself; one that was refused (a proxy's
      // 502, a restart in progress) is closed for good, so start a new one.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    };
    source.addEventListener("presence", function (message) {
      showPresence(JSON.parse(message.data).user_ids);
    });
    source.addEventListener("stream.closed", function (message) {
      var reason = JSON.parse(message.data).reason;
      if (/no longer a member|deleted/.test(reason)) {
        finished = true;
        source.close();
        setState("closed", "Not live: " + reason);
        window.tasklette.toast("This page no longer updates: " + reason + ".");
      }
    });
    KINDS.forEach(function (kind) { source.addEventListener(kind, deliver); });
  }

  connect();
  window.addEventListener("pagehide", function () { if (source) source.close(); });

  // --- the open task (the board's dialog, or the task's own page) ---------------------

  function isDirty(detail) {
    return Array.prototype.some.call(detail.querySelectorAll("input, textarea, select"),
      function (field) {
        if (field.type === "hidden" || field.type === "file") return false;
        if (field.tagName === "SELECT") {
          return Array.prototype.some.call(field.options, function (option) {
            return option.selected !== option.defaultSelected;
          });
        }
        if (field.type === "checkbox" || field.type === "radio") {
          return field.checked !== field.defaultChecked;
        }
        return field.value !== field.defaultValue;
      });
  }

  function concerns(event, taskId) {
    var task = event.payload.task;
    return event.task_id === taskId ||
      (task && task.parent_task_id === taskId) ||
      event.payload.parent_task_id === taskId;
  }

  function notice(detail, html) {
    var box = detail.querySelector(".task-notices");
    if (!box) return;
    var old = box.querySelector(".live-notice");
    if (old) old.remove();
    var note = document.createElement("div");
    note.className = "alert live-notice";
    note.setAttribute("role", "status");
    note.innerHTML = html;
    box.appendChild(note);
  }

  function reloadDetail(detail) {
    htmx.ajax("GET", "/tasks/" + detail.dataset.taskId,
              { target: detail, swap: "outerHTML", source: detail });
  }

  document.addEventListener("tasklette:event", function (e) {
    var event = e.detail;
    var detail = document.getElementById("task-detail");
    if (!detail) return;
    var taskId = Number(detail.dataset.taskId);
    if (!concerns(event, taskId)) return;
    var task = event.payload.task;
    if (event.kind === "task.deleted" && event.entity_id === taskId) {
      notice(detail, "<p><strong></strong> deleted this task.</p>");
      detail.querySelector(".live-notice strong").textContent = event.actorName;
      detail.classList.add("deleted");
      return;
    }
    // What this tab did itself is already on screen.
    if (task && task.id === taskId && String(task.version) === detail.dataset.version) return;
    if (event.mine && !task) return;
    if (isDirty(detail)) {
      notice(detail, '<p><strong></strong> changed this task while you were editing. ' +
        'What you typed is kept. <button type="button" class="link-button" data-live-reload>' +
        "Show their change</button> (your unsaved text will be replaced)</p>");
      detail.querySelector(".live-notice strong").textContent = event.actorName;
      return;
    }
    reloadDetail(detail);
  });

  document.addEventListener("click", function (e) {
    if (!e.target.closest("[data-live-reload]")) return;
    var detail = document.getElementById("task-detail");
    if (detail) reloadDetail(detail);
  });

  // --- the list view and the activity page: fetch the changed part of the page -------
  // (A list's rows depend on its filters, sort and page, which only the server applies.)

  function later(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  var list = document.querySelector("[data-live-list]");
  if (list) {
    var refreshList = later(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html")
            .querySelector("[data-live-list]");
          if (fresh) list.innerHTML = fresh.innerHTML;
        });
    }, 250);
    // The row a change leaves where it is (so its event can redraw it, with no fetch):
    // a task on this page of an unfiltered list, changed in nothing the sort reads.
    var FILTERS = ["q", "column", "label", "assignee", "priority", "due_after", "due_before",
                   "completed", "parent"];
    var SORTED_BY = { position: ["column_id"], created: [], title: ["title"],
                      due: ["due_date"], priority: ["priority"] };  // "updated": any change
    var rowStays = function (event) {
      if (!/^task\.(updated|label_added|label_removed)$/.test(event.kind)) return null;
      var task = event.payload.task;
      var row = list.querySelector('tr[data-task-id="' + task.id + '"]');
      var params = new URLSearchParams(location.search);
      if (!row || !window.tasklette.rows || FILTERS.some(function (name) {
        return params.get(name);
      })) return null;
      var read = SORTED_BY[(params.get("sort") || "position").replace(/^-/, "")];
      var changes = event.payload.changes || ["label_ids"];
      if (!read || changes.some(function (name) { return read.indexOf(name) !== -1; })) {
        return null;
      }
      return row;
    };
    var columnNames = function () {
      var names = {};
      document.querySelectorAll("#f-column option[value]").forEach(function (option) {
        if (option.value) names[option.value] = option.textContent;
      });
      return names;
    };
    // Comments and files show nowhere in the list (nor change its filters or order):
    // their events need no fetch.
    // Without the `parent` filter the list has top-level tasks only, which a subtask's
    // change does not touch.
    var subtaskOutOfList = function (event) {
      var task = event.payload.task || event.payload;
      return Boolean(task.parent_task_id) &&
        !new URLSearchParams(location.search).get("parent");
    };
    document.addEventListener("tasklette:event", function (e) {
      if (!/^(task|label|column)\./.test(e.detail.kind)) return;
      if (/^task\./.test(e.detail.kind) && subtaskOutOfList(e.detail)) return;
      var row = rowStays(e.detail);
      if (!row) { refreshList(); return; }
      row.replaceWith(window.tasklette.rows.render(e.detail.payload.task, columnNames(),
                                                   list.dataset.today));
    });
  }

  // The activity page's newest page takes newer entries on top (an older page would
  // gain a gap); the fragment URL carries the page's filters.
  var entries = document.getElementById("activity-entries");
  if (entries && entries.dataset.takesNewer === "true") {
    var loadNewer = later(function fetchNewer() {
      var url = entries.dataset.fragmentUrl + "&after=" + (entries.dataset.latestId || "0");
      fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var holder = document.createElement("ol");
          holder.innerHTML = html;
          var items = holder.querySelectorAll("[data-event-id]");
          if (!items.length) return;
          entries.dataset.latestId = items[0].dataset.eventId;
          var empty = document.querySelector(".activity-empty");
          if (empty) empty.remove();
          items.forEach(function (item) { item.classList.add("live-new"); });
          entries.insertAdjacentHTML("afterbegin", holder.innerHTML);
          fetchNewer();  // more than one page's worth arrived: ask again
        });
    }, 150);
    document.addEventListener("tasklette:event", loadNewer);
  }
})();
