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

  // --- cards not drawn yet ------------------------------------------------------------
  //
  // The page comes with the first cards of each column drawn and the rest as data
  // (#board-data): `waiting[columnId]` holds them in board order, each a task (as the
  // API gives it) or a card element taken out of the page. A column's drawn cards always
  // come before its waiting ones, so a drawn card's index is its position. They are
  // drawn as the column scrolls near its end, when the filter matches them, and before
  // a quick-add appends to the column; live events change them where they wait.

  var cards = window.tasklette.cards;
  var today = board.dataset.today;
  var waiting = {};

  (function readBoardData() {
    var holder = document.getElementById("board-data");
    if (!holder) return;
    var data = JSON.parse(holder.textContent);
    holder.remove();
    var labels = {}, people = {};
    Object.keys(data.labels).forEach(function (id) {
      labels[id] = { id: Number(id), name: data.labels[id].name, color: data.labels[id].color };
    });
    Object.keys(data.people).forEach(function (id) {
      people[id] = { id: Number(id), username: data.people[id].username,
                     display_name: data.people[id].display_name };
    });
    Object.keys(data.columns).forEach(function (columnId) {
      waiting[columnId] = data.columns[columnId].map(function (values) {
        var task = {};
        data.fields.forEach(function (name, i) { task[name] = values[i]; });
        task.labels = task.labels.map(function (id) { return labels[id]; });
        task.assignees = task.assignees.map(function (id) { return people[id]; });
        return task;
      });
    });
  })();

  function waitingIn(columnId) {
    return waiting[columnId] || (waiting[columnId] = []);
  }

  function idOf(item) {
    return item.nodeType ? Number(item.dataset.taskId) : item.id;
  }

  function asCard(item) {
    return item.nodeType ? item : cards.render(item, today);
  }

  // Draw the next `count` waiting cards of a column at its end.
  function drawMore(columnId, count) {
    var list = columnList(columnId);
    var items = waitingIn(columnId).splice(0, count);
    if (!list || !items.length) return;
    var fragment = document.createDocumentFragment();
    items.forEach(function (item) { fragment.appendChild(asCard(item)); });
    list.appendChild(fragment);
  }

  function drawAll(columnId) {
    drawMore(columnId, waitingIn(columnId).length);
    if (drawnBeforeFilter) delete drawnBeforeFilter[columnId];  // kept when it clears
  }

  var NEAR_END_PX = 800;
  var DRAW_BATCH = 60;

  function drawIfNearEnd(list) {
    var columnId = list.closest(".board-column").dataset.columnId;
    if (!waitingIn(columnId).length) return;
    if (list.scrollTop + list.clientHeight < list.scrollHeight - NEAR_END_PX) return;
    drawMore(columnId, DRAW_BATCH);
    applyFilter();
    refreshCounts();
    requestAnimationFrame(function () { drawIfNearEnd(list); });  // still near: more
  }

  board.querySelectorAll(".card-list").forEach(function (list) {
    var pending = false;
    list.addEventListener("scroll", function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; drawIfNearEnd(list); });
    }, { passive: true });
  });

  // Where a card is: drawn ({card}), waiting ({columnId, index}), or nowhere ({}).
  function find(taskId) {
    var card = document.getElementById("card-" + taskId);
    if (card) return { card: card };
    var found = {};
    Object.keys(waiting).some(function (columnId) {
      var index = waiting[columnId].findIndex(function (item) { return idOf(item) === taskId; });
      if (index !== -1) found = { columnId: columnId, index: index };
      return index !== -1;
    });
    return found;
  }

  function versionOf(found) {
    if (found.card) return Number(found.card.dataset.version);
    if (found.columnId === undefined) return -1;
    var item = waiting[found.columnId][found.index];
    return Number(item.nodeType ? item.dataset.version : item.version);
  }

  function forget(found) {
    if (found.card) found.card.remove();
    else if (found.columnId !== undefined) waiting[found.columnId].splice(found.index, 1);
  }

  // Put a card (element or task) at `position` of a column (Infinity: its end); returns
  // the element when it is drawn, null when it waits.
  function place(item, columnId, position) {
    var list = columnList(columnId);
    if (!list) { if (item.nodeType) item.remove(); return null; }
    var drawn = cardsOf(list, item.nodeType ? item : null);
    var queue = waitingIn(columnId);
    if (item.nodeType) item.dataset.columnId = columnId;
    // Right after the drawn cards it may be drawn too (as a card dropped there stays).
    if (queue.length && position > drawn.length) {
      if (item.nodeType) item.remove();
      queue.splice(Math.min(position - drawn.length, queue.length), 0, item);
      return null;
    }
    var card = asCard(item);
    list.insertBefore(card, drawn[position] || null);
    return card;
  }

  function refreshCounts() {
    var all = 0, open = 0;
    board.querySelectorAll(".board-column").forEach(function (column) {
      var drawn = column.querySelectorAll(".card-list > .card").length;
      var queue = waitingIn(column.dataset.columnId);
      var done = column.querySelectorAll(".card-list > .card.done").length +
        queue.filter(function (item) {
          return item.nodeType ? item.classList.contains("done") : item.completed;
        }).length;
      var badge = column.querySelector("[data-count]");
      if (badge) badge.textContent = drawn + queue.length;
      all += drawn + queue.length;
      open += drawn + queue.length - done;
    });
    if (summary) summary.textContent = open + " open of " + all + " tasks";
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

  // The text a card is filtered by (its element's or, waiting, the one it would have).
  function textOf(item) {
    var text = texts.get(item);
    if (text === undefined) {
      text = (item.nodeType ? item.textContent : cards.text(item, today))
        .toLowerCase().replace(/\s+/g, " ");
      texts.set(item, text);
    }
    return text;
  }

  function matches(item, words) {
    var text = textOf(item);
    return words.every(function (word) { return text.indexOf(word) !== -1; });
  }

  var FILTER_DRAWS = 40;  // matching cards drawn per column at once; more as it scrolls
  var drawnBeforeFilter = null;  // column id -> how many cards were drawn before it

  // Draw each column's waiting cards until FILTER_DRAWS of its matches are drawn (those
  // between are drawn too, hidden by the filter, so that every drawn card's index stays
  // its position); returns how many matching cards still wait.
  function drawMatches(words) {
    var stillWaiting = 0;
    board.querySelectorAll(".board-column").forEach(function (column) {
      var columnId = column.dataset.columnId;
      var queue = waitingIn(columnId);
      if (!queue.length) return;
      var shown = 0, upTo = 0;
      column.querySelectorAll(".card-list > .card").forEach(function (card) {
        if (matches(card, words)) shown += 1;
      });
      queue.forEach(function (item, index) {
        if (!matches(item, words)) return;
        if (shown < FILTER_DRAWS) { shown += 1; upTo = index + 1; } else stillWaiting += 1;
      });
      drawMore(columnId, upTo);
    });
    return stillWaiting;
  }

  // The filter is cleared: the cards it drew wait again, so the page stays small.
  function putBackFilterDraws() {
    Object.keys(drawnBeforeFilter).forEach(function (columnId) {
      var list = columnList(columnId);
      if (!list) return;
      var extra = cardsOf(list).slice(drawnBeforeFilter[columnId]);
      extra.forEach(function (card) { card.remove(); card.hidden = false; });
      waiting[columnId] = extra.concat(waitingIn(columnId));
    });
  }

  function applyFilter() {
    if (!search) return;
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    if (words.length && drawnBeforeFilter === null) {
      drawnBeforeFilter = {};
      board.querySelectorAll(".card-list").forEach(function (list) {
        var columnId = list.closest(".board-column").dataset.columnId;
        if (waitingIn(columnId).length) drawnBeforeFilter[columnId] = cardsOf(list).length;
      });
    } else if (!words.length && drawnBeforeFilter !== null) {
      putBackFilterDraws();
      drawnBeforeFilter = null;
    }
    if (words.length) shown += drawMatches(words);
    board.querySelectorAll(".card").forEach(function (card) {
      var match = !words.length || matches(card, words);
      card.hidden = !match;
      total += 1;
      if (match) shown += 1;
    });
    Object.keys(waiting).forEach(function (columnId) { total += waiting[columnId].length; });
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
    var list = columnList(card.dataset.columnId);
    if (list && card.parentNode !== list) place(card, card.dataset.columnId, Infinity);
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

  function isQuickAdd(form) {
    return form.matches && form.matches("form.quick-add");
  }

  // The new card goes at the column's end: after the cards still waiting to be drawn.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (isQuickAdd(event.detail.elt)) {
      drawAll(event.detail.elt.closest(".board-column").dataset.columnId);
    }
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!isQuickAdd(form) || !event.detail.successful) return;
    var input = form.querySelector("input[name=title]");
    input.value = "";
    input.focus();
    var list = form.closest(".board-column").querySelector(".card-list");
    var last = list.lastElementChild;
    if (last) {
      // Its live event may have drawn it already: one card per task.
      document.querySelectorAll('[id="' + last.id + '"]').forEach(function (card) {
        if (card !== last) card.remove();
      });
      last.scrollIntoView({ block: "nearest" });
    }
    refreshCounts();
    applyFilter();
  });

  // --- live updates from other people (live.js dispatches the project's events) ------

  function columnList(columnId) {
    return board.querySelector('.board-column[data-column-id="' + columnId + '"] .card-list');
  }

  function flash(card) {
    card.classList.remove("live-changed");
    void card.offsetWidth;  // restart the animation
    card.classList.add("live-changed");
  }

  // Show `task` as its event gives it (no request): redrawn where it is, or placed at
  // `position` of its column (undefined: where it is, if in the same column). Skipped
  // when the page already shows a newer version, or the card is being dragged here.
  function showTask(task, position) {
    var found = find(task.id);
    if (versionOf(found) > task.version) return;
    if (found.card && found.card.classList.contains("card-chosen")) return;
    var card = cards.render(task, today);
    var column = found.card ? found.card.dataset.columnId : found.columnId;
    if (column === String(task.column_id) && position === undefined) {
      if (found.card) {
        card.hidden = found.card.hidden;
        found.card.replaceWith(card);
        flash(card);
      } else {
        waiting[found.columnId][found.index] = task;
      }
    } else {
      forget(found);
      card = place(task, task.column_id, position === undefined ? Infinity : position);
      if (card) flash(card);
    }
    refreshCounts();
    applyFilter();
  }

  // The counts on a card changed (a comment, a file, a subtask): `task` is the card's
  // task now. A task without a card (a subtask) is left alone.
  function showCard(task) {
    var found = find(task.id);
    if (found.card || found.columnId !== undefined) showTask(task);
  }

  var fetching = {};

  // Fetch a card as the server renders it and redraw it: only for events written before
  // events carried the card (a replay of older ones).
  function refreshCard(taskId) {
    if (fetching[taskId] || !find(taskId).card) return;
    fetching[taskId] = true;
    fetch("/tasks/" + taskId + "/card", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 404) return null;
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (html) {
      var old = document.getElementById("card-" + taskId);
      if (!old || old.classList.contains("card-chosen")) return;
      if (html === null) { old.remove(); return; }
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var card = holder.firstElementChild;
      card.hidden = old.hidden;
      old.replaceWith(card);
      flash(card);
    }).catch(function () { /* the next event or a reload brings it */ }).then(function () {
      delete fetching[taskId];
      refreshCounts();
      applyFilter();
    });
  }

  // A subtask's change shows on its parent's card: from the event's `card`, or fetched.
  function showParent(event, parentId) {
    if (event.payload.card) showCard(event.payload.card);
    else refreshCard(parentId);
  }

  function applyLiveEvent(event) {
    var task = event.payload.task;
    var found;
    switch (event.kind) {
      case "task.created":
        if (task.parent_task_id) showParent(event, task.parent_task_id);
        else if (versionOf(find(task.id)) === -1) showTask(task, task.position);
        break;
      case "task.moved":
        if (task.parent_task_id) break;
        found = find(task.id);
        if (found.card && found.card.classList.contains("card-chosen")) break;
        if (versionOf(found) === task.version && found.card) {
          // What this tab moved itself, or an echo: only its place may be news.
          place(found.card, task.column_id, task.position);
          refreshCounts();
          break;
        }
        showTask(task, task.position);
        break;
      case "task.updated":
        if (task.parent_task_id) { showParent(event, task.parent_task_id); break; }
        found = find(task.id);
        if (versionOf(found) === task.version) break;  // up to date
        showTask(task, found.columnId === String(task.column_id) ||
                       (found.card && found.card.dataset.columnId === String(task.column_id))
                         ? undefined : task.position);
        break;
      case "task.label_added":
      case "task.label_removed":
        if (task.parent_task_id) break;  // a subtask's labels do not show on its parent
        if (versionOf(find(task.id)) === task.version) break;
        showTask(task);
        break;
      case "task.deleted":
        forget(find(event.entity_id));
        if (event.payload.parent_task_id) showParent(event, event.payload.parent_task_id);
        refreshCounts();
        applyFilter();
        break;
      case "comment.created":
      case "comment.deleted":
      case "attachment.added":
      case "attachment.deleted":
        if (event.payload.card) showCard(event.payload.card);
        else if (event.task_id) refreshCard(event.task_id);
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
