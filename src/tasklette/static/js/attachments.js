// Tasklette attachments (the task page and the board's dialog): drop files onto a task,
// or pick them; each one uploads on its own request with a progress bar, percentage,
// speed and a cancel button; refusals show the server's problem detail.
(function () {
  "use strict";

  document.documentElement.classList.add("js-attachments");

  var UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  var active = [];  // uploads in progress: {taskId, item}

  function humanSize(size) {
    var value = size, unit = 0;
    while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
    if (unit === 0) return Math.round(size) === 1 ? "1 byte" : Math.round(size) + " bytes";
    return value.toFixed(1).replace(/\.0$/, "") + " " + UNITS[unit];
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function sectionFor(taskId) {
    return document.querySelector('[data-attachments][data-task-id="' + taskId + '"]');
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // One row of the upload list: name, size, progress bar, percentage, speed, a button.
  function uploadItem(file) {
    var item = el("li", "upload");
    var head = el("div", "upload-head");
    head.appendChild(el("span", "upload-name", file.name));
    head.appendChild(el("span", "upload-size muted", humanSize(file.size)));
    var button = el("button", "link-button upload-cancel", "Cancel");
    button.type = "button";
    head.appendChild(button);
    var bar = el("progress", "upload-bar");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    var status = el("p", "upload-status muted");
    status.appendChild(el("span", "upload-percent", "0%"));
    status.appendChild(el("span", "upload-speed", ""));
    item.appendChild(head);
    item.appendChild(bar);
    item.appendChild(status);
    return item;
  }

  function settle(item, state, message) {
    item.classList.remove("sending");
    item.classList.add(state);
    var status = item.querySelector(".upload-status");
    status.textContent = message;
    status.setAttribute("role", state === "failed" ? "alert" : "status");
    var button = item.querySelector(".upload-cancel");
    button.textContent = "Dismiss";
    button.onclick = function () { item.remove(); };
    active = active.filter(function (upload) { return upload.item !== item; });
    if (state !== "failed") setTimeout(function () { item.remove(); }, 4000);
  }

  function problemDetail(xhr) {
    try {
      var problem = JSON.parse(xhr.responseText);
      if (problem && problem.detail) return problem.detail.charAt(0).toUpperCase() + problem.detail.slice(1) + ".";
    } catch (error) { /* not JSON: a proxy's page, say */ }
    return "The server refused the upload (" + xhr.status + ").";
  }

  // After an upload: the list from the server (and the board's card, out of band).
  function refresh(taskId) {
    var section = sectionFor(taskId);
    if (!section || !window.htmx) return;
    var items = section.querySelector(".attachment-items");
    window.htmx.ajax("GET", section.dataset.listUrl, {
      source: items, target: items, swap: "outerHTML", select: ".attachment-items",
    });
  }

  function send(section, file) {
    var taskId = section.dataset.taskId;
    var item = uploadItem(file);
    section.querySelector(".upload-list").appendChild(item);
    var limit = Number(section.dataset.maxFileBytes);
    if (limit && file.size > limit) {
      var size = humanSize(file.size), most = section.dataset.maxFileText;
      if (size === most) {  // just over: rounding would hide the difference
        size = file.size.toLocaleString("en") + " bytes";
        most = limit.toLocaleString("en") + " bytes";
      }
      settle(item, "failed", "“" + file.name + "” is too large: " + size +
        ", and the limit is " + most + " per file.");
      return;
    }
    var xhr = new XMLHttpRequest();
    var started = performance.now();
    var bar = item.querySelector(".upload-bar");
    var percent = item.querySelector(".upload-percent");
    var speed = item.querySelector(".upload-speed");
    item.classList.add("sending");
    active.push({ taskId: taskId, item: item });
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var done = Math.min(100, Math.floor(event.loaded * 100 / event.total));
      bar.value = done;
      percent.textContent = done + "%";
      var seconds = (performance.now() - started) / 1000;
      if (seconds > 0.2) speed.textContent = " · " + humanSize(event.loaded / seconds) + "/s";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        bar.value = 100;
        var seconds = (performance.now() - started) / 1000;
        settle(item, "done", "Uploaded " + humanSize(file.size) + (seconds < 1 ? "." :
          " in " + seconds.toFixed(1) + " s (" + humanSize(file.size / seconds) + "/s)."));
        refresh(taskId);
      } else {
        settle(item, "failed", problemDetail(xhr));
      }
    });
    xhr.addEventListener("error", function () {
      settle(item, "failed", "The upload of “" + file.name + "” failed: Tasklette could not be reached, or the connection broke. Try again.");
    });
    xhr.addEventListener("abort", function () { settle(item, "cancelled", "Cancelled."); });
    item.querySelector(".upload-cancel").onclick = function () { xhr.abort(); };
    var form = new FormData();
    form.append("file", file, file.name);
    xhr.open("POST", section.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(form);
  }

  function sendAll(section, files) {
    for (var i = 0; i < files.length; i += 1) send(section, files[i]);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-attachments] .attachment-input")) return;
    sendAll(input.closest("[data-attachments]"), input.files);
    input.value = "";
  });

  // Without scripts the form posts the files; with them, the picker uploads at once.
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches(".attachment-upload")) event.preventDefault();
  });

  // Files dropped anywhere on a task's detail go to its attachments.
  function dropSection(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    if (!types || Array.prototype.indexOf.call(types, "Files") < 0) return null;
    var detail = event.target.closest && event.target.closest("#task-detail");
    var section = detail && detail.querySelector("[data-attachments][data-upload-url]");
    return section || null;
  }

  function highlight(section, on) {
    document.querySelectorAll("[data-attachments].dropping").forEach(function (other) {
      if (other !== section || !on) other.classList.remove("dropping");
    });
    if (section && on) section.classList.add("dropping");
  }

  document.addEventListener("dragover", function (event) {
    var section = dropSection(event);
    if (!section) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    highlight(section, true);
  });
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget || !event.relatedTarget.closest || !event.relatedTarget.closest("#task-detail")) {
      highlight(null, false);
    }
  });
  document.addEventListener("drop", function (event) {
    var section = dropSection(event);
    highlight(null, false);
    if (!section) return;
    event.preventDefault();
    section.scrollIntoView({ block: "nearest" });
    sendAll(section, event.dataTransfer.files);
  });

  // When the task's detail is swapped (a save, say), uploads in progress move to the
  // new one, so that their progress stays in view.
  document.addEventListener("htmx:afterSettle", function () {
    active.forEach(function (upload) {
      if (document.body.contains(upload.item)) return;
      var section = sectionFor(upload.taskId);
      if (section) section.querySelector(".upload-list").appendChild(upload.item);
    });
  });
})();
