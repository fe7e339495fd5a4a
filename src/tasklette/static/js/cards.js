// Tasklette cards: one board card drawn from a task's data, as templates/board/_card.html
// draws it (same elements, attributes and text; a browser test holds the two equal).
// The board draws the cards it did not get as HTML with it, and the cards that live
// events change, from the task in the event: no request per card.
//
// Built with DOM calls and text nodes, never from HTML strings: what users typed is text.
(function () {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];

  // `2026-05-31` as `31 May`, with the year when it is not this year's (board.short_date).
  function shortDate(iso, today) {
    var text = Number(iso.slice(8, 10)) + " " + MONTHS[Number(iso.slice(5, 7)) - 1];
    return iso.slice(0, 4) === today.slice(0, 4) ? text : text + " " + iso.slice(0, 4);
  }

  // `Ana Souza` as `AS`; one word gives its first letter (board.initials).
  function initials(name) {
    var words = name.split(/\s+/).filter(Boolean).slice(0, 2);
    if (!words.length) return "?";
    return words.map(function (word) { return Array.from(word)[0]; }).join("").toUpperCase();
  }

  var element = window.tasklette.element;  // app.js: DOM calls and text nodes only

  function badge(className, title, text) {
    return element("span", { "class": "badge " + className, "title": title }, [text]);
  }

  // The card of `task` (a task as the API and the live events give it: labels and
  // assignees as objects), with due dates read against `today` (YYYY-MM-DD).
  function render(task, today) {
    var card = element("article", {
      "class": task.completed ? "card done" : "card",
      "id": "card-" + task.id,
      "data-task-id": String(task.id),
      "data-version": String(task.version),
      "data-column-id": String(task.column_id),
    });
    var title = element("a", { "class": "card-title", "href": "/tasks/" + task.id });
    if (task.completed) {
      title.appendChild(element("span", { "class": "visually-hidden" }, ["Done: "]));
    }
    title.appendChild(document.createTextNode(task.title));
    card.append("\n", title, "\n");
    if (task.labels.length) {
      card.appendChild(element("ul", { "class": "card-labels" }, task.labels.map(function (label) {
        return element("li", { "class": "label" }, [
          element("span", { "class": "swatch", "style": "background: " + label.color }),
          label.name]);
      })));
    }
    var meta = element("div", { "class": "card-meta" }, ["\n"]);
    if (task.priority !== "none") {
      meta.appendChild(element("span", { "class": "priority " + task.priority },
                               [task.priority]));
    }
    if (task.due_date) {
      var overdue = task.due_date < today && !task.completed;
      meta.appendChild(element("span", { "class": overdue ? "badge due overdue" : "badge due" }, [
        element("time", { "datetime": task.due_date }, [shortDate(task.due_date, today)])]));
    }
    if (task.subtask_count) {
      meta.appendChild(badge("subtasks", "Subtasks done",
                             task.subtasks_completed + "/" + task.subtask_count));
    }
    if (task.comment_count) meta.appendChild(badge("comments", "Comments", String(task.comment_count)));
    if (task.attachment_count) {
      meta.appendChild(badge("attachments", "Attachments", String(task.attachment_count)));
    }
    if (task.assignees.length) {
      meta.appendChild(element("span", { "class": "card-people" }, task.assignees.map(function (p) {
        return element("span", { "class": "initials", "title": p.display_name },
                       [initials(p.display_name || p.username)]);
      })));
    }
    card.append(meta, "\n");
    return card;
  }

  // The text of render(task, today) (its textContent), without making the card: what
  // the board's filter reads of the cards it has not drawn.
  function text(task, today) {
    var parts = ["\n", task.completed ? "Done: " : "", task.title, "\n"];
    task.labels.forEach(function (label) { parts.push(label.name); });
    parts.push("\n");
    if (task.priority !== "none") parts.push(task.priority);
    if (task.due_date) parts.push(shortDate(task.due_date, today));
    if (task.subtask_count) parts.push(task.subtasks_completed + "/" + task.subtask_count);
    if (task.comment_count) parts.push(String(task.comment_count));
    if (task.attachment_count) parts.push(String(task.attachment_count));
    task.assignees.forEach(function (p) { parts.push(initials(p.display_name || p.username)); });
    parts.push("\n");
    return parts.join("");
  }

  window.tasklette = window.tasklette || {};
  window.tasklette.cards = { render: render, text: text };
})();
