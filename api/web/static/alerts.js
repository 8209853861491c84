// 提醒 / Alerts page: the webhook secret's copy button (the secret is shown once; the page works without this).
(function () {
  "use strict";
  // A webhook just registered: bring its secret (shown this once) into view.
  var secret = document.getElementById("webhook-secret");
  if (secret) { secret.scrollIntoView({block: "center"}); }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.textContent.trim();
      var label = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", label);
      function done(ok) {
        button.textContent = ok ? "✓ " + button.getAttribute("data-copied") : button.getAttribute("data-copy-failed");
        if (!ok) {  // select the secret so that the user can copy it by hand
          var range = document.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        }
        window.setTimeout(function () { button.textContent = label; }, 2500);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      } else {
        done(false);
      }
    });
  });
})();
