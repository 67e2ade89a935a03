// On a phone the console's navigation starts folded, so that the page itself is on screen.
(function () {
  "use strict";
  var menu = document.querySelector("details.side-menu");
  if (menu && window.matchMedia("(max-width: 820px)").matches) { menu.open = false; }
})();

// Focus on the first field with an error, so that it is read out and can be corrected at once.
(function () {
  "use strict";
  var first = document.querySelector("[aria-invalid=true], #form-error");
  if (first) { first.focus(); }
})();

// Copy buttons for client IDs, secrets and keys. The pages work without this script: the values
// are shown in selectable fields and the private key has a download link; this only adds the
// buttons, which stay hidden when scripts do not run.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function valueOf(target) {
    return "value" in target && target.value !== undefined ? target.value : target.textContent;
  }

  function say(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    if (status) { status.textContent = text; }
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function fallbackCopy(target) {
    if (target.select) { target.select(); } else {
      var range = document.createRange();
      range.selectNodeContents(target);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    return document.execCommand && document.execCommand("copy");
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = button.getAttribute("data-done") || "Copied";
      var text = valueOf(target).trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { say(button, done); },
          function () { if (fallbackCopy(target)) { say(button, done); } }
        );
      } else if (fallbackCopy(target)) {
        say(button, done);
      }
    });
  });
})();
