// Tasklette list rows: one row of the list view drawn from a task's data, as
// templates/list/list.html draws it (a browser test holds the two equal). live.js
// redraws a row from a live event when the change cannot move it in or out of the
// page or along it. Built with DOM calls and text nodes: what users typed is text.
(function () {
  "use strict";

  var DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"];

  // `Mon 30 Jun`, with the year when it is not this one (task_list.day_label).
  function dayLabel(iso, today) {
    var y = Number(iso.slice(0, 4)), m = Number(iso.slice(5, 7)), d = Number(iso.slice(8, 10));
    var text = DAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()] + " " + d + " " + MONTHS[m - 1];
    return iso.slice(0, 4) === today.slice(0, 4) ? text : text + " " + y;
  }

  var element = window.tasklette.element;  // app.js: DOM calls and text nodes only

  function cell(name, empty, children) {
    return element("td", { "class": "col-" + name + (empty ? " is-empty" : "") }, children);
  }

  function dash() {
    return element("span", { "class": "muted" }, ["—"]);
  }

  // The row of `task` (as the API and live events give it); `columns` maps column ids
  // to names, `today` is YYYY-MM-DD.
  function render(task, columns, today) {
    var row = element("tr", { "data-task-id": String(task.id) });
    if (task.completed) row.className = "done";
    var title = [];
    if (task.parent_task_id) {
      title.push(element("a", { "class": "parent-link muted", "href": "/tasks/" + task.parent_task_id },
                         ["Subtask of task " + task.parent_task_id]), element("br"));
    }
    title.push(element("a", { "href": "/tasks/" + task.id, "class": "task-title" }, [task.title]));
    row.appendChild(cell("title", false, title));
    var column = columns[task.column_id] || "";
    row.appendChild(cell("column", !column, [column || "—"]));
    var labels = [];
    task.labels.forEach(function (label) {
      labels.push(element("span", { "class": "label" }, [
        element("span", { "class": "swatch", "style": "background: " + label.color }),
        label.name]), " ");
    });
    row.appendChild(cell("labels", !task.labels.length, labels));
    var people = [];
    task.assignees.forEach(function (person, index) {
      people.push(element("span", { "class": "person", "title": person.username }, [
        element("span", { "class": "initials", "aria-hidden": "true" },
                [(Array.from(person.display_name)[0] || "").toUpperCase()]),
        person.display_name]));
      if (index < task.assignees.length - 1) {
        people.push(element("span", { "class": "visually-hidden" }, [", "]));
      }
    });
    row.appendChild(cell("assignees", !people.length, people.length ? people : [dash()]));
    var none = task.priority === "none";
    row.appendChild(cell("priority", none, [none ? dash() : element(
      "span", { "class": "priority " + task.priority }, [task.priority])]));
    var due = [dash()];
    if (task.due_date) {
      var overdue = task.due_date < today && !task.completed;
      var time = element("time", { "datetime": task.due_date, "class": overdue ? "badge overdue" : "badge" },
                         [dayLabel(task.due_date, today)]);
      if (overdue) time.appendChild(element("span", { "class": "visually-hidden" }, [" (overdue)"]));
      due = [time];
    }
    row.appendChild(cell("due", !task.due_date, due));
    row.appendChild(element("td", { "class": "col-status" }, [task.completed
      ? element("span", { "class": "status done" }, ["✓ Done"])
      : element("span", { "class": "status open" }, ["Open"])]));
    return row;
  }

  window.tasklette = window.tasklette || {};
  window.tasklette.rows = { render: render };
})();
