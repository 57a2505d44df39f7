// Progressive enhancement only: every page works in full without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js-enabled");

  function syncConditionals(form) {
    // A block is shown when any answer that opens it is chosen (several answers may open
    // the same block: the insurance company for each kind of insurance that has one).
    var open = {};
    form.querySelectorAll("[data-reveals]").forEach(function (radio) {
      var id = radio.getAttribute("data-reveals");
      open[id] = open[id] || radio.checked;
    });
    Object.keys(open).forEach(function (id) {
      var block = document.getElementById(id);
      // No aria-expanded: ARIA does not allow it on a radio button. aria-controls
      // (in the markup) ties the answer to the questions it shows.
      if (block) { block.classList.toggle("conditional--hidden", !open[id]); }
    });
  }

  // The label (or, for a choice or a short group like the date, the legend) that says
  // what a field is: shown at the top of the screen when the field is reached from the
  // error summary, with the field itself below it (the GOV.UK pattern).
  function labelFor(input) {
    var fieldset = input.closest("fieldset");
    if (fieldset) {
      var legend = fieldset.querySelector("legend");
      if (legend) {
        if (input.type === "checkbox" || input.type === "radio") { return legend; }
        var legendTop = legend.getBoundingClientRect().top;
        var box = input.getBoundingClientRect();
        if (box.height && window.innerHeight && box.top + box.height - legendTop < window.innerHeight / 2) {
          return legend;
        }
      }
    }
    return document.querySelector("label[for='" + input.id + "']") || input.closest("label");
  }

  function focusField(id) {
    var input = document.getElementById(id);
    if (!input) { return false; }
    var label = labelFor(input);
    (label || input).scrollIntoView();
    input.focus({ preventScroll: true });
    return true;
  }

  // The English home page, shared by everyone (and cached), carries a hidden line in
  // Spanish; it is shown here to a browser that puts Spanish before English. Never a
  // redirect: the visible "Español" link is on every page anyway.
  function suggestSpanish() {
    var note = document.querySelector("[data-language-suggestion]");
    if (!note || !navigator.languages) { return; }
    for (var i = 0; i < navigator.languages.length; i++) {
      var primary = String(navigator.languages[i]).toLowerCase().split("-")[0];
      if (primary === "en") { return; }
      if (primary === "es") { note.hidden = false; return; }
    }
  }

  // Staff pages: warn two minutes before the idle sign-out, with a button that keeps the
  // session (WCAG 2.2.1). The server counts only requests as activity: the button posts
  // one, and so does typing in a form (at most once a minute), so that someone writing a
  // long note is not signed out under it while the server's limit still holds for a
  // page left alone. The warning is announced (role alert) without taking the focus from
  // the box being typed in, sits opaque at the bottom of the window, and the page makes
  // room for it so that it never hides the field in use (WCAG 2.4.11).
  var WARN_SECONDS = 120;
  var TYPING_PING_SECONDS = 60;

  function warnBeforeSignOut() {
    var note = document.querySelector("[data-session-timeout]");
    if (!note) { return; }
    var limit = parseInt(note.getAttribute("data-session-timeout"), 10);
    var keepAlive = note.getAttribute("data-keep-alive");
    var tokenInput = document.querySelector("input[name='csrf_token']");
    if (!limit || !keepAlive || !tokenInput) { return; }
    var warnTimer, endTimer, box, ended = false, lastPing = Date.now(), pinging = false;

    function minutesText(seconds) {
      var minutes = Math.max(1, Math.round(seconds / 60));
      return minutes === 1 ? "1 minute" : minutes + " minutes";
    }

    function makeRoom() {
      var height = box ? box.offsetHeight : 0;
      document.body.style.paddingBottom = height ? height + "px" : "";
      document.documentElement.style.scrollPaddingBottom = height ? height + "px" : "";
      var field = document.activeElement;
      if (!box || !field || field === document.body) { return; }
      var overlap = field.getBoundingClientRect().bottom - box.getBoundingClientRect().top;
      if (overlap > 0) { window.scrollBy(0, overlap + 8); }
    }

    function showWarning() {
      if (box) { return; }
      box = document.createElement("div");
      box.className = "session-warning";
      box.setAttribute("role", "alert");
      var inner = document.createElement("div");
      inner.className = "container session-warning__inner";
      var text = document.createElement("p");
      text.id = "session-warning-text";
      text.textContent = "You will be signed out in " + minutesText(WARN_SECONDS) +
        " because nothing has been typed, saved or opened. Anything you have typed stays here.";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = "Stay signed in";
      button.addEventListener("click", stay);
      inner.appendChild(text);
      inner.appendChild(button);
      box.appendChild(inner);
      document.body.appendChild(box);
      makeRoom();
    }

    function showEnded() {
      ended = true;
      if (!box) { showWarning(); }
      box.querySelector("p").textContent = "Your session has ended. Anything you have typed " +
        "is still here: when you save it, you will be asked to sign in and your note will " +
        "be kept for you.";
      var button = box.querySelector("button");
      if (button) { button.remove(); }
      makeRoom();
    }

    function stay() {
      pinging = true;
      fetch(keepAlive, {
        method: "POST",
        credentials: "same-origin",
        // A session already ended answers with a redirect to sign-in: not "kept".
        redirect: "manual",
        headers: { "X-CSRFToken": tokenInput.value },
      }).then(function (response) {
        pinging = false;
        if (response.ok) {
          lastPing = Date.now();
          if (box) { box.remove(); box = null; makeRoom(); }
          start();
        } else {
          showEnded();
        }
      }).catch(function () { pinging = false; /* offline: the warning stays, the button can be pressed again */ });
    }

    function start() {
      window.clearTimeout(warnTimer);
      window.clearTimeout(endTimer);
      warnTimer = window.setTimeout(showWarning, Math.max(0, limit - WARN_SECONDS) * 1000);
      endTimer = window.setTimeout(showEnded, limit * 1000);
    }

    // Typing in a form is activity: the server hears of it, once a minute at most, and
    // at once when the warning is showing.
    document.addEventListener("input", function (event) {
      if (ended || pinging || !event.target.form) { return; }
      if (box || Date.now() - lastPing >= TYPING_PING_SECONDS * 1000) { stay(); }
    });

    start();
  }

  // Keyboard shortcuts for the staff pages: n takes the next request, / goes to the
  // queue's search, s saves, ? shows the list. Single keys, so never while typing in a
  // box, never with Ctrl, Alt or Command, and the list has a switch to turn them off
  // (WCAG 2.1.4; screen readers and voice control use single keys too). Each is a
  // button, link or box that Tab reaches as well.
  var SHORTCUTS_OFF = "staff-shortcuts-off";

  function storedFlag(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storeFlag(key, value) {
    try {
      if (value === null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* private browsing: not remembered */ }
  }

  function isTextBox(element) {
    if (!element || !element.tagName) { return false; }
    if (element.isContentEditable || element.tagName === "TEXTAREA" || element.tagName === "SELECT") { return true; }
    if (element.tagName !== "INPUT") { return false; }
    return ["checkbox", "radio", "button", "submit", "reset", "file", "range", "color"].indexOf(element.type) < 0;
  }

  function keyboardShortcuts() {
    var help = document.querySelector("[data-shortcuts]");
    if (!help) { return; }
    var toggle = help.querySelector("[data-shortcuts-off]");
    if (toggle) {
      toggle.checked = storedFlag(SHORTCUTS_OFF) === "1";
      toggle.addEventListener("change", function () { storeFlag(SHORTCUTS_OFF, toggle.checked ? "1" : null); });
    }

    function press(key) {
      var target = document.querySelector(key === "/" ? "[role=search] input[name='q']" : "[data-shortcut='" + key + "']");
      if (key === "/") {
        if (target) { target.focus(); target.select(); return true; }
        window.location.assign(help.getAttribute("data-queue-url") + "#q");
        return true;
      }
      if (key === "?") {
        help.open = !help.open;
        if (help.open) { help.querySelector("summary").focus(); help.scrollIntoView({ block: "nearest" }); }
        return true;
      }
      if (!target) { return false; }
      target.click();
      return true;
    }

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
      if (isTextBox(event.target)) {
        // Esc leaves the note box for its Save button: then s (or Enter) saves.
        var form = event.target.closest("[data-save-form]");
        if (event.key === "Escape" && form) {
          form.querySelector("[data-shortcut='s']").focus();
        }
        return;
      }
      if (event.key === "Escape" && help.open) { help.open = false; help.querySelector("summary").focus(); return; }
      if (storedFlag(SHORTCUTS_OFF) === "1") { return; }
      if (["n", "/", "s", "?"].indexOf(event.key) < 0) { return; }
      if (press(event.key)) { event.preventDefault(); }
    });
  }

  // A disclosure (the queue's filters) stays as the person left it, in this browser.
  function rememberDisclosures() {
    document.querySelectorAll("details[data-remember-open]").forEach(function (details) {
      var key = "open:" + details.getAttribute("data-remember-open");
      var stored = storedFlag(key);
      // A filter with a message stays open whatever was remembered.
      if (stored !== null && !details.querySelector(".field--error")) { details.open = stored === "1"; }
      details.addEventListener("toggle", function () { storeFlag(key, details.open ? "1" : "0"); });
    });
  }


  // The private page's upload: one file at a time, with a progress bar for a slow phone
  // connection and "Try again" after a lost one. Without this script the same form posts
  // every chosen file at once and the page says what became of each. A file that did
  // arrive is kept once however often it is sent (the server compares its SHA-256).
  function enhanceUpload() {
    var form = document.querySelector("[data-upload-form]");
    var words = document.querySelector("[data-upload-words]");
    if (!form || !words || !window.FormData || !window.XMLHttpRequest) { return; }
    var box = form.querySelector("[data-upload-progress]");
    var status = form.querySelector("[data-upload-status]");
    var bar = form.querySelector("[data-upload-bar]");
    var results = form.querySelector("[data-upload-results]");
    var retry = form.querySelector("[data-upload-retry]");
    var submit = form.querySelector("[data-upload-submit]");
    var queue = [];
    var allOk = true;

    function say(template, values) {
      return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
    }

    function addResult(name, text, ok) {
      var item = document.createElement("li");
      item.setAttribute("data-outcome", ok ? "ok" : "refused");
      var strong = document.createElement("strong");
      strong.textContent = name;
      item.appendChild(strong);
      item.appendChild(document.createTextNode(": " + text));
      results.appendChild(item);
    }

    function next() {
      if (!queue.length) {
        status.textContent = words.getAttribute("data-done");
        submit.disabled = false;
        if (allOk) { window.location.assign(form.getAttribute("data-done-url")); }
        form.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
        return;
      }
      var file = queue[0];
      var data = new FormData();
      data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
      data.append("kind", form.querySelector("input[name=kind]:checked").value);
      data.append("files", file, file.name);
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) { return; }
        var percent = Math.round(event.loaded * 100 / event.total);
        bar.value = percent;
        status.textContent = say(words.getAttribute("data-sending"), { name: file.name, percent: percent });
      });
      request.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
        if (request.status === 200 && answer && answer.outcomes) {
          answer.outcomes.forEach(function (outcome) {
            allOk = allOk && outcome.ok;
            addResult(outcome.name, outcome.message, outcome.ok);
          });
          queue.shift();
          next();
        } else if (answer && answer.errors) {
          // The form's own problems (no kind chosen...): the plain form says them best.
          form.submit();
        } else {
          failed();
        }
      });
      request.addEventListener("error", failed);
      request.addEventListener("timeout", failed);
      request.send(data);
    }

    function failed() {
      status.textContent = words.getAttribute("data-failed");
      retry.hidden = false;
      retry.focus();
      submit.disabled = false;
    }

    retry.addEventListener("click", function () {
      retry.hidden = true;
      submit.disabled = true;
      next();
    });

    form.addEventListener("submit", function (event) {
      var kind = form.querySelector("input[name=kind]:checked");
      var files = [];
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        Array.prototype.forEach.call(input.files || [], function (file) { files.push(file); });
      });
      // Nothing chosen: the server's messages, with the error summary, as without script.
      if (!kind || !files.length) { return; }
      event.preventDefault();
      queue = files;
      allOk = true;
      results.textContent = "";
      box.hidden = false;
      retry.hidden = true;
      submit.disabled = true;
      next();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceUpload();
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-reveals]")) {
        syncConditionals(form);
        form.addEventListener("change", function () { syncConditionals(form); });
      }
      // Ignore a second press of a submit button while the first is on its way; the
      // server also stores one request per form, so this only saves a round trip.
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitting === "true") { event.preventDefault(); return; }
        form.dataset.submitting = "true";
        window.setTimeout(function () { form.dataset.submitting = "false"; }, 5000);
      });
    });

    // A page that answers a POST with mistakes takes its GET address in the history:
    // Back to it, or a reload, then never asks to send the form again.
    var historyUrl = document.querySelector("[data-history-url]");
    if (historyUrl && window.history.replaceState) {
      window.history.replaceState(null, "", historyUrl.getAttribute("data-history-url"));
    }

    warnBeforeSignOut();
    keyboardShortcuts();
    rememberDisclosures();
    suggestSpanish();

    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      // A link in the summary moves focus to its field and shows the field's label above
      // it, rather than scrolling to the field's section.
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[href^='#']");
        if (!link) { return; }
        if (focusField(link.getAttribute("href").slice(1))) { event.preventDefault(); }
      });
    }

    // A "Change" link from the answers page lands on its question the same way.
    if (window.location.hash.length > 1 && !summary) {
      focusField(decodeURIComponent(window.location.hash.slice(1)));
    }

    document.querySelectorAll("[data-print-button]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });

  // Back or forward from the browser's page cache: the form shows the answers it had, so
  // the questions they open must show too.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-reveals]")) { syncConditionals(form); }
      form.dataset.submitting = "false";
    });
  });
})();
