// Suggestions for a text box marked with data-suggestions (the initiative list's agency filter): as the user
// types, the agencies that match are fetched and offered in the box's <datalist>. Without this script the box
// still works: the server accepts an acronym or a name (tracker.filters.AgencyField).
(function () {
  "use strict";
  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var timer = null;
    var asked = "";
    function show(suggestions) {
      list.replaceChildren();
      suggestions.forEach(function (item) {
        var option = document.createElement("option");
        option.value = item.value;
        option.label = item.label;
        option.textContent = item.label;
        list.appendChild(option);
      });
    }
    function ask() {
      var text = input.value.trim();
      if (text === asked) return;
      asked = text;
      if (!text) { show([]); return; }
      var url = input.dataset.suggestions + "?q=" + encodeURIComponent(text);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) { if (input.value.trim() === text) show(data.suggestions); })
        .catch(function () { /* no suggestions; the box still accepts what is typed */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
  }
  document.querySelectorAll("input[data-suggestions][list]").forEach(attach);
})();
