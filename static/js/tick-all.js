// The review queue: one box in the table's header ticks (or clears) every update on the page. Without this
// script the box stays hidden and each update is ticked on its own.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input.tick-all").forEach(function (all) {
      var table = all.closest("table");
      var boxes = table.querySelectorAll("tbody input[type=checkbox]");
      if (!boxes.length) return;
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
      boxes.forEach(function (box) {
        box.addEventListener("change", function () {
          var ticked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
          all.checked = ticked === boxes.length;
          all.indeterminate = ticked > 0 && ticked < boxes.length;
        });
      });
    });
  });
})();
