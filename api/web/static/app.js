// 科创资本通 web console: a little progressive enhancement. Every form works without this script.
(function () {
  "use strict";
  var body = document.body;
  var sending = body.getAttribute("data-sending") || "…";
  var failed = body.getAttribute("data-failed") || "Failed";

  // Loading state: a form being sent shows it and cannot be sent twice.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.setAttribute("aria-busy", "true");
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.setAttribute("data-label", b.textContent);
        b.textContent = sending;
      });
    });
  });

  // Save / Dismiss / Request contact: post the funnel event in place, keep the list (and its list id).
  document.querySelectorAll("form.act").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (!button || button.disabled) { return; }
      var label = button.textContent;
      button.disabled = true;
      button.textContent = sending;
      var card = form.closest(".deal");
      var note = card && card.querySelector(".act-note");
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"X-Requested-With": "fetch", "Accept": "application/json"}})
        .then(function (r) { return r.json().then(function (data) { return {status: r.status, data: data}; }); })
        .then(function (res) {
          if (res.data && res.data.ok) {
            button.textContent = "✓ " + form.getAttribute("data-done");
            button.className = "done";
            button.setAttribute("data-recorded", res.data.created ? "created" : "duplicate");
            if (res.data.event_type === "dismissed" && card) { card.classList.add("is-dismissed"); }
            return;
          }
          if (res.status === 401 && res.data && res.data.signin) { window.location = res.data.signin; return; }
          throw new Error((res.data && res.data.message) || failed);
        })
        .catch(function (err) {
          button.disabled = false;
          button.textContent = label;
          if (card) {
            if (!note) { note = document.createElement("p"); note.className = "alert act-note"; card.appendChild(note); }
            note.setAttribute("role", "alert");
            note.textContent = failed + ": " + err.message;
          }
        });
    });
  });

  // 组建银团/联合投资: a deal card's folded panel loads its sets the first time it is opened (the link inside
  // opens the same sets as a page without this script).
  document.querySelectorAll("details.syndicate[data-src]").forEach(function (box) {
    box.addEventListener("toggle", function () {
      if (!box.open || box.getAttribute("data-loaded")) { return; }
      box.setAttribute("data-loaded", "loading");
      var slot = box.querySelector(".syndicate-body");
      slot.setAttribute("aria-busy", "true");
      slot.textContent = box.getAttribute("data-loading") || sending;
      fetch(box.getAttribute("data-src"), {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.text(); })
        .then(function (html) {
          slot.innerHTML = html;  // rendered by the server (Jinja autoescaping), from our own origin
          slot.removeAttribute("aria-busy");
          box.setAttribute("data-loaded", "done");
        })
        .catch(function (err) {
          slot.removeAttribute("aria-busy");
          slot.textContent = failed + ": " + err.message;
          box.removeAttribute("data-loaded");
        });
    });
  });
})();
