// logs.js follows an app's logs on the console's live log page: it reads
// the plain-text stream (same origin, named by #log-lines' data-stream) and
// appends each line as text (textContent: rack output never becomes HTML).
// Pause holds new lines back (and shows them on resume); Follow keeps the
// newest line in view.
(function () {
  "use strict";
  var out = document.getElementById("log-lines");
  if (!out || !window.fetch || !window.TextDecoder) {
    return;
  }
  var maxLines = 5000;
  var state = document.getElementById("log-state");
  var pause = document.getElementById("log-pause");
  var follow = document.getElementById("log-follow");
  var paused = false;
  var held = [];
  var partial = "";
  var ended = false;

  function setState(name, text) {
    state.setAttribute("data-state", name);
    state.textContent = text;
  }

  function show(line) {
    var div = document.createElement("div");
    div.className = "line";
    div.textContent = line;
    out.appendChild(div);
    while (out.childElementCount > maxLines) {
      out.removeChild(out.firstChild);
    }
  }

  function scroll() {
    if (follow.checked) {
      out.scrollTop = out.scrollHeight;
    }
  }

  function add(line) {
    if (paused) {
      held.push(line);
      if (held.length > maxLines) {
        held.shift();
      }
      setState("paused", "paused, " + held.length + " new line" + (held.length === 1 ? "" : "s") + " held");
      return;
    }
    show(line);
  }

  function take(text) {
    var lines = (partial + text).split("\n");
    partial = lines.pop();
    lines.forEach(add);
    scroll();
  }

  pause.addEventListener("click", function () {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    if (paused) {
      setState("paused", "paused");
      return;
    }
    held.forEach(show);
    held = [];
    scroll();
    setState(ended ? "ended" : "following", ended ? "ended" : "following");
  });

  document.getElementById("log-controls").hidden = false;
  setState("starting", "starting…");
  fetch(out.getAttribute("data-stream"), {credentials: "same-origin", cache: "no-store", redirect: "error"})
    .then(function (resp) {
      if (!resp.ok || !resp.body) {
        return resp.text().then(function (t) {
          ended = true;
          setState("refused", "not shown: " + t.trim());
        });
      }
      setState("following", "following");
      var reader = resp.body.getReader();
      var decoder = new TextDecoder();
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            take(decoder.decode());
            if (partial) {
              add(partial);
              partial = "";
              scroll();
            }
            ended = true;
            if (!paused) {
              setState("ended", "ended");
            }
            return;
          }
          take(decoder.decode(r.value, {stream: true}));
          return pump();
        });
      }
      return pump();
    })
    .catch(function () {
      ended = true;
      setState("ended", "the stream was interrupted; reload to follow again");
    });
})();
