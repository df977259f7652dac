// The web page's behaviour beyond htmx. A same-origin file: the Content-Security-Policy
// allows no inline script. Four things: the API key as a header, error fragments
// swapped in, the fill buttons, and the scored-CSV download.
(function () {
  "use strict";

  function apiKey() {
    var input = document.getElementById("api-key");
    return input && input.value ? input.value : null;
  }

  // Every htmx request carries the key (when the service wants one) as X-API-Key.
  document.addEventListener("htmx:configRequest", function (event) {
    var key = apiKey();
    if (key) {
      event.detail.headers["X-API-Key"] = key;
    }
  });

  // A refusal shown as text in `target`: the API's JSON sentence, or the status.
  function showRefusal(target, body, status) {
    var detail = null;
    try {
      detail = JSON.parse(body).detail;
    } catch (ignored) {
      detail = null;
    }
    var paragraph = document.createElement("p");
    paragraph.className = "refusal";
    paragraph.setAttribute("role", "alert");
    paragraph.textContent = detail || "The service answered " + status + ".";
    if (target) {
      target.replaceChildren(paragraph);
    }
  }

  // htmx 2 swaps no 4xx or 5xx answer. The page's own refusals (422, 413) are HTML
  // fragments meant to be shown: swap them. Refusals of the admission gate (401 key,
  // 413 body, 503 no model or overloaded) are the API's JSON: show their sentence.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) {
      return;
    }
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/html") === 0) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    event.detail.shouldSwap = false;
    showRefusal(event.detail.target, xhr.responseText, xhr.status);
  });

  document.addEventListener("htmx:sendError", function (event) {
    showRefusal(event.detail.target, "", "nothing: the service cannot be reached");
  });

  // After an error fragment, focus the field it names, so the keyboard is where the fix is.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "result") {
      return;
    }
    var invalid = document.querySelector('#score-form [aria-invalid="true"]');
    if (invalid) {
      invalid.focus();
    }
  });

  function fill(which) {
    var inputs = document.querySelectorAll("#score-form [data-" + which + "]");
    inputs.forEach(function (input) {
      input.value = input.dataset[which];
    });
  }

  // The upload's answer carries the scored CSV (base64, so its bytes are exactly the
  // CLI's): save it as a file, with no second request and no second scoring.
  function download(button) {
    var text = atob(button.dataset.csv);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) {
      bytes[i] = text.charCodeAt(i);
    }
    var url = URL.createObjectURL(new Blob([bytes], { type: "text/csv" }));
    var link = document.createElement("a");
    link.href = url;
    link.download = button.dataset.filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  document.addEventListener("click", function (event) {
    var filler = event.target.closest("[data-fill]");
    if (filler) {
      fill(filler.dataset.fill);
      return;
    }
    var downloader = event.target.closest("[data-csv]");
    if (downloader) {
      download(downloader);
    }
  });
})();
