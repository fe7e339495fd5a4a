// Tasklette board: drag and drop (SortableJS, saved through the JSON API), the task
// dialog with its own URL, collapsible columns, the card filter and quick-add.
(function () {
  "use strict";

  var board = document.querySelector("[data-board]");
  if (!board) return;
  var projectId = board.dataset.projectId;
  var dialog = document.getElementById("task-dialog");
  var dialogBody = document.getElementById("task-dialog-body");
  var search = document.querySelector("[data-search]");

  function toast(message) { window.tasklette.toast(message); }

  function cardsOf(list, except) {
    return Array.prototype.filter.call(list.children, function (el) {
      return el !== except && el.classList.contains("card");
    });
  }

  var summary = document.querySelector("[data-board-summary]");

  function refreshCounts() {
    board.querySelectorAll(".board-column").forEach(function (column) {
      var badge = column.querySelector("[data-count]");
      if (badge) badge.textContent = column.querySelectorAll(".card-list > .card").length;
    });
    if (summary) {
      var all = board.querySelectorAll(".card-list > .card").length;
      var open = board.querySelectorAll(".card-list > .card:not(.done)").length;
      summary.textContent = open + " open of " + all + " tasks";
    }
  }

  // --- collapsing columns, remembered per project and column ----------------------

  function collapseKey(column) {
    return "tasklette:collapsed:" + projectId + ":" + column.dataset.columnId;
  }

  function setCollapsed(column, collapsed) {
    column.classList.toggle("collapsed", collapsed);
    var button = column.querySelector("[data-collapse]");
    if (button) button.setAttribute("aria-expanded", String(!collapsed));
  }

  board.querySelectorAll(".board-column").forEach(function (column) {
    try {
      if (localStorage.getItem(collapseKey(column)) === "1") setCollapsed(column, true);
    } catch (e) { /* storage may be disabled: columns simply start expanded */ }
  });

  function toggleColumn(column) {
    var collapsed = !column.classList.contains("collapsed");
    setCollapsed(column, collapsed);
    try {
      if (collapsed) localStorage.setItem(collapseKey(column), "1");
      else localStorage.removeItem(collapseKey(column));
    } catch (e) { /* not remembered, still toggled */ }
  }

  // --- filtering cards by their text ------------------------------------------------

  var texts = new WeakMap();
  var filterStatus = document.querySelector("[data-filter-status]");

  function applyFilter() {
    if (!search) return;
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    board.querySelectorAll(".card").forEach(function (card) {
      var text = texts.get(card);
      if (text === undefined) {
        text = card.textContent.toLowerCase().replace(/\s+/g, " ");
        texts.set(card, text);
      }
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      card.hidden = !match;
      total += 1;
      if (match) shown += 1;
    });
    board.classList.toggle("filtering", words.length > 0);
    if (filterStatus) {
      filterStatus.textContent = words.length ? shown + " of " + total + " cards match" : "";
    }
  }

  if (search) {
    search.addEventListener("input", applyFilter);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && search.value) {
        search.value = "";
        applyFilter();
      }
    });
  }

  // --- the task dialog: /tasks/{id} over the board -----------------------------------

  function loadTask(id) {
    dialogBody.innerHTML = '<p class="muted dialog-loading">Loading…</p>';
    if (!dialog.open) dialog.showModal();
    return htmx.ajax("GET", "/tasks/" + id, { target: dialogBody, swap: "innerHTML" });
  }

  // how: "push" a history entry, "replace" the current one, or leave history alone.
  function openTask(id, how) {
    if (how === "push") history.pushState({ taskId: String(id) }, "", "/tasks/" + id);
    else if (how === "replace") history.replaceState({ taskId: String(id) }, "", "/tasks/" + id);
    loadTask(id);
  }

  dialog.addEventListener("close", function () {
    dialogBody.innerHTML = "";
    // Closed by the user (Esc, the close button): leave the task's URL.
    if (history.state && history.state.taskId) history.back();
  });

  window.addEventListener("popstate", function (event) {
    if (event.state && event.state.taskId) loadTask(event.state.taskId);
    else if (dialog.open) dialog.close();
  });

  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) { dialog.close(); return; }  // the backdrop
    var link = event.target.closest("a[data-task-link]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      openTask(link.dataset.taskLink, "replace");
    }
  });

  // After an edit in the dialog the card was swapped out of band: if the task changed
  // column, the card goes to the end of its new column, as the server put it.
  function placeCard(card) {
    var list = board.querySelector('.board-column[data-column-id="' + card.dataset.columnId +
                                   '"] .card-list');
    if (list && card.parentNode !== list) list.appendChild(card);
  }

  document.body.addEventListener("htmx:afterSettle", function () {
    var detail = dialogBody.querySelector("#task-detail");
    if (!detail) return;
    var card = document.getElementById("card-" + detail.dataset.taskId);
    if (card) placeCard(card);
    refreshCounts();
    applyFilter();
  });

  document.body.addEventListener("htmx:responseError", function (event) {
    if (event.detail.target === dialogBody && dialog.open) dialog.close();
  });

  // Deleting the task in the dialog loads the board anew: first take the task's URL
  // out of the history, so that Back does not lead to a task that is gone.
  dialog.addEventListener("submit", function (event) {
    if (!event.defaultPrevented && event.target.matches("form.task-delete")) {
      history.replaceState(null, "", "/projects/" + projectId);
    }
  });

  // --- clicks on the board: collapse, open a card, start a new task -----------------

  board.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-collapse]");
    if (toggle) { toggleColumn(toggle.closest(".board-column")); return; }
    var add = event.target.closest("[data-new-task]");
    if (add) {
      var column = add.closest(".board-column");
      if (column.classList.contains("collapsed")) toggleColumn(column);
      add.focus();
      add.scrollIntoView({ block: "nearest", inline: "nearest" });
      return;
    }
    var card = event.target.closest(".card");
    if (card && event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      openTask(card.dataset.taskId, "push");
    }
  });

  // --- quick-add: the new card is appended by htmx ----------------------------------

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form.quick-add") || !event.detail.successful) return;
    var input = form.querySelector("input[name=title]");
    input.value = "";
    input.focus();
    var list = form.closest(".board-column").querySelector(".card-list");
    var last = list.lastElementChild;
    if (last) last.scrollIntoView({ block: "nearest" });
    refreshCounts();
    applyFilter();
  });

  // --- live updates from other people (live.js dispatches the project's events) ------

  function columnList(columnId) {
    return board.querySelector('.board-column[data-column-id="' + columnId + '"] .card-list');
  }

  // Put a card at `position` among its column's cards (the server's order).
  function placeAt(card, columnId, position) {
    var list = columnList(columnId);
    if (!list) return;
    var others = cardsOf(list, card);
    list.insertBefore(card, others[position] || null);
    card.dataset.columnId = columnId;
  }

  function flash(card) {
    card.classList.remove("live-changed");
    void card.offsetWidth;  // restart the animation
    card.classList.add("live-changed");
  }

  var fetching = {};

  // Fetch a card as the server renders it and put it in place (or drop it if gone).
  function refreshCard(taskId, columnId, position) {
    if (fetching[taskId]) { fetching[taskId].again = [columnId, position]; return; }
    fetching[taskId] = {};
    fetch("/tasks/" + taskId + "/card", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 404) return null;
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (html) {
      var old = document.getElementById("card-" + taskId);
      if (html === null) { if (old) old.remove(); return; }
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var card = holder.firstElementChild;
      if (old && old.classList.contains("card-chosen")) return;  // being dragged here
      if (old) {
        card.hidden = old.hidden;
        old.replaceWith(card);
      }
      if (columnId !== undefined && (!old || old.dataset.columnId !== String(columnId) ||
                                     position !== undefined)) {
        placeAt(card, columnId, position === undefined ? Infinity : position);
      }
      flash(card);
    }).catch(function () { /* the next event or a reload brings it */ }).then(function () {
      var again = fetching[taskId].again;
      delete fetching[taskId];
      if (again) refreshCard(taskId, again[0], again[1]);
      refreshCounts();
      applyFilter();
    });
  }

  function applyLiveEvent(event) {
    var task = event.payload.task;
    var card;
    switch (event.kind) {
      case "task.created":
        if (task.parent_task_id) refreshCard(task.parent_task_id);
        else if (!document.getElementById("card-" + task.id)) {
          refreshCard(task.id, task.column_id, task.position);
        }
        break;
      case "task.moved":
        card = document.getElementById("card-" + task.id);
        if (task.parent_task_id) break;
        if (!card) { refreshCard(task.id, task.column_id, task.position); break; }
        if (card.classList.contains("card-chosen")) break;  // this viewer is dragging it
        card.dataset.version = task.version;
        placeAt(card, task.column_id, task.position);
        flash(card);
        refreshCounts();
        break;
      case "task.updated":
      case "task.label_added":
      case "task.label_removed":
        if (task.parent_task_id) { refreshCard(task.parent_task_id); break; }
        card = document.getElementById("card-" + task.id);
        if (card && card.dataset.version === String(task.version)) break;  // up to date
        refreshCard(task.id, task.column_id,
                    card && card.dataset.columnId === String(task.column_id)
                      ? undefined : task.position);
        break;
      case "task.deleted":
        card = document.getElementById("card-" + event.entity_id);
        if (card) card.remove();
        if (event.payload.parent_task_id) refreshCard(event.payload.parent_task_id);
        refreshCounts();
        break;
      case "comment.created":
      case "comment.deleted":
      case "attachment.added":
      case "attachment.deleted":
        if (event.task_id && document.getElementById("card-" + event.task_id)) {
          refreshCard(event.task_id);
        }
        break;
      case "label.updated":
      case "label.deleted":
      case "column.created":
      case "column.deleted":
        boardChanged(event);
        break;
      case "column.updated":
        columnUpdated(event.payload);
        break;
    }
  }

  // A renamed or reordered column is changed in place; the rest reloads the board when
  // that loses nothing, and otherwise asks.
  function columnUpdated(payload) {
    var section = board.querySelector('.board-column[data-column-id="' +
                                      payload.column.id + '"]');
    if (!section) { boardChanged(); return; }
    var title = section.querySelector(".column-title");
    if (title) title.textContent = payload.column.name;
    var container = board.querySelector(".board-columns");
    (payload.columns || []).forEach(function (column) {
      var el = board.querySelector('.board-column[data-column-id="' + column.id + '"]');
      if (el) container.appendChild(el);
    });
  }

  function unsaved() {
    return Array.prototype.some.call(
      board.querySelectorAll("input:not([type=hidden]):not([data-search])"),
      function (field) { return field.value !== field.defaultValue; }) ||
      (dialog.open && dialogBody.querySelector("#task-detail"));
  }

  function boardChanged() {
    if (!unsaved()) { location.reload(); return; }
    toast("The board's columns or labels changed: reload the page to see them.");
  }

  document.addEventListener("tasklette:event", function (e) {
    applyLiveEvent(e.detail);
  });

  // --- drag and drop (editors only: the script is loaded for them) -------------------

  if (!board.hasAttribute("data-editable") || !window.Sortable) return;

  function putBack(item, list, index) {
    var cards = cardsOf(list, item);
    list.insertBefore(item, cards[index] || null);
  }

  function moveCard(event) {
    var card = event.item;
    if (event.from === event.to && event.oldDraggableIndex === event.newDraggableIndex) return;
    var column = event.to.closest(".board-column");
    refreshCounts();
    card.classList.add("saving");
    window.tasklette.api("POST", "/api/v1/tasks/" + card.dataset.taskId + "/move", {
      column_id: Number(column.dataset.columnId),
      position: event.newDraggableIndex,
    }).then(function (task) {
      card.dataset.version = task.version;
      card.dataset.columnId = task.column_id;
    }).catch(function (error) {
      putBack(card, event.from, event.oldDraggableIndex);
      refreshCounts();
      toast("The card could not be moved: " + error.message);
    }).then(function () {
      card.classList.remove("saving");
    });
  }

  board.querySelectorAll(".card-list").forEach(function (list) {
    Sortable.create(list, {
      group: "cards",
      draggable: ".card",
      animation: 150,
      delay: 180,
      delayOnTouchOnly: true,  // a touch that does not hold still scrolls instead
      ghostClass: "card-ghost",
      chosenClass: "card-chosen",
      onEnd: moveCard,
    });
  });

  var columns = board.querySelector(".board-columns");
  if (columns) {
    Sortable.create(columns, {
      draggable: ".board-column",
      handle: ".column-head",  // the whole header; its controls still click
      filter: "button, summary, .menu-items",
      preventOnFilter: false,
      delay: 180,
      delayOnTouchOnly: true,
      direction: "horizontal",
      animation: 150,
      ghostClass: "column-ghost",
      onEnd: function (event) {
        if (event.oldDraggableIndex === event.newDraggableIndex) return;
        var column = event.item;
        window.tasklette.api("PATCH", "/api/v1/columns/" + column.dataset.columnId, {
          position: event.newDraggableIndex,
        }).catch(function (error) {
          var all = Array.prototype.filter.call(columns.children, function (el) {
            return el !== column && el.classList.contains("board-column");
          });
          columns.insertBefore(column, all[event.oldDraggableIndex] || null);
          toast("The column could not be moved: " + error.message);
        });
      },
    });
  }
})();
