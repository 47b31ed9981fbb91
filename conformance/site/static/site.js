// Filtering for lists of cases: every element with data-filter="<selector>" narrows the rows/figures matched by
// that selector. Text inputs match the row's data-text; selects and checkboxes match the row's data-<name>
// attribute (a space-separated list). No framework, no network.
(function () {
  "use strict";
  function apply(target) {
    var controls = document.querySelectorAll('[data-filter="' + target + '"]');
    var rows = document.querySelectorAll(target);
    var shown = 0;
    rows.forEach(function (row) {
      var visible = true;
      controls.forEach(function (control) {
        var name = control.getAttribute("data-key");
        if (control.type === "search" || control.type === "text") {
          var words = control.value.toLowerCase().split(/\s+/).filter(Boolean);
          var text = (row.getAttribute("data-text") || "").toLowerCase();
          visible = visible && words.every(function (w) { return text.indexOf(w) !== -1; });
        } else if (control.type === "checkbox") {
          visible = visible && (!control.checked || row.getAttribute("data-" + name) === "yes");
        } else if (control.value) {
          visible = visible && (row.getAttribute("data-" + name) || "").split(" ").indexOf(control.value) !== -1;
        }
      });
      row.classList.toggle("hidden", !visible);
      if (visible) { shown += 1; }
    });
    document.querySelectorAll('[data-count-of="' + target + '"]').forEach(function (el) {
      el.textContent = String(shown);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var targets = {};
    document.querySelectorAll("[data-filter]").forEach(function (control) {
      var target = control.getAttribute("data-filter");
      targets[target] = true;
      control.addEventListener(control.tagName === "SELECT" || control.type === "checkbox" ? "change" : "input",
                               function () { apply(target); });
    });
    Object.keys(targets).forEach(apply);
  });
})();
