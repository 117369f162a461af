// Portico admin UI: small progressive enhancements. Every page works without this.
(function () {
  "use strict";

  // Confirmation dialog for forms marked data-confirm. Without JavaScript the server
  // asks on a page of its own; with it, this dialog adds the _confirmed field.
  var dialog = null, pending = null;
  function confirmSubmit(form, submitter) {
    dialog = dialog || document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(form.dataset.confirm)) { markConfirmed(form); form.requestSubmit(submitter || undefined); }
      return;
    }
    document.getElementById("confirm-text").textContent = form.dataset.confirm;
    showImpact(form.dataset.impact);
    pending = { form: form, submitter: submitter };
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  }
  // What the cut would have refused, asked of the call log while the dialog is open.
  function showImpact(src) {
    var el = document.getElementById("confirm-impact");
    if (!el) return;
    el.hidden = true; el.textContent = "";
    if (!src || !window.fetch) return;
    el.hidden = false; el.textContent = "Looking at the last 7 days of calls…";
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (j) { el.textContent = "In the call log, this " + j.summary + "."; })
      .catch(function () { el.hidden = true; });
  }
  function markConfirmed(form) {
    if (!form.querySelector("input[name=_confirmed]")) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = "_confirmed"; i.value = "1";
      form.appendChild(i);
    }
  }
  // A bulk action that cuts access says what it will do to how many tokens.
  function bulkQuestion(form) {
    var action = form.querySelector("[name=action]").value;
    if (["disable", "deactivate", "delete"].indexOf(action) < 0) return "";
    var scope = form.querySelector("input[name=scope]:checked");
    var which = scope && scope.value === "matching"
      ? "all " + form.dataset.total + " matching tokens"
      : document.querySelectorAll("input[name=ids][form=" + form.id + "]:checked").length + " selected token(s)";
    return action.charAt(0).toUpperCase() + action.slice(1) + " " + which + "? Applications using them are refused at once.";
  }
  // An allowlist's entries as typed: one address or network per line or comma.
  function allowlistEntries(text) {
    return text.split(/[,\n]/).map(function (s) { return s.trim(); }).filter(function (s) { return s; });
  }
  // A form whose allowlist changed to a narrower one asks first, saying what the new
  // allowlist would have refused (the server asks the same without JavaScript).
  function allowlistQuestion(form) {
    var area = form.querySelector("textarea[data-allowlist]");
    if (!area) return;
    var now = allowlistEntries(area.value), was = allowlistEntries(area.defaultValue);
    if (now.length && now.join(",") !== was.join(",")) {
      form.dataset.confirm = form.dataset.allowlistConfirm;
      form.dataset.impact = form.dataset.allowlistImpact + "&allowlist=" + encodeURIComponent(now.join(","));
    } else {
      delete form.dataset.confirm; delete form.dataset.impact;
    }
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.hasAttribute("data-bulk")) {
      var q = bulkQuestion(form);
      if (q) { form.dataset.confirm = q; } else { delete form.dataset.confirm; }
    }
    if (form.hasAttribute("data-allowlist-impact") && !form.querySelector("input[name=_confirmed]")) allowlistQuestion(form);
    if (form.dataset && form.dataset.confirm && !form.querySelector("input[name=_confirmed]")) {
      e.preventDefault();
      confirmSubmit(form, e.submitter);
      return;
    }
    if (form.hasAttribute("data-inplace") && window.fetch && window.DOMParser) {
      e.preventDefault();
      submitInPlace(form, e.submitter);
    }
  });

  // Mapping switches change in place: the form is posted by fetch, the table it sits
  // in is read again from the server, and the outcome is announced; the page keeps its
  // scroll and focus. Without JavaScript the same forms post and redirect back.
  function submitInPlace(form, submitter) {
    var data = new URLSearchParams(new FormData(form));
    var focusId = submitter && submitter.id;
    var dialog = form.closest("dialog");
    // The part of the page read again: a marked region (a list with its count and
    // pager), else the table the form sits in.
    var table = form.closest("[data-region][id]") || form.closest("table[id]");
    // (form.action would be the hidden input named "action")
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "X-Portico-Inplace": "1", "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      var src = dialog ? dialog.dataset.src : location.pathname + location.search;
      return fetch(src, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = table && doc.getElementById(table.id);
        if (fresh) {
          var back = form.querySelector("input[name=_back]").value;
          fresh.querySelectorAll("input[name=_back]").forEach(function (i) { i.value = back; });
          table.replaceWith(document.importNode(fresh, true));
        }
        var again = focusId && document.getElementById(focusId);
        if (again) again.focus();
        // Announced once the table shows the change.
        var flash = (dialog && dialog.querySelector(".dialog-flash")) || document.getElementById("inplace-flash");
        if (flash) {
          flash.className = (dialog ? "dialog-flash " : "") + "flash " + (res.body.ok ? "ok" : "error");
          flash.setAttribute("role", res.body.ok ? "status" : "alert");
          flash.textContent = res.body.message || res.body.confirm || "";
        }
      });
    }).catch(function () { location.reload(); });
  }

  // Links that act as switches answer Space like buttons do.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if ((e.key === " " || e.key === "Spacebar") && t.tagName === "A" && t.getAttribute("role") === "switch") {
      e.preventDefault();
      t.click();
    }
  });
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("button, a") : null;
    if (!t) return;
    if (t.id === "confirm-ok" && pending) {
      var p = pending; pending = null;
      dialog.close();
      markConfirmed(p.form);
      p.form.requestSubmit(p.submitter || undefined);
      return;
    }
    if (t.hasAttribute("data-close")) {
      var d = t.closest("dialog");
      if (d) { e.preventDefault(); d.close(); pending = null; }
      return;
    }
    if (t.dataset.dialogSrc) {
      var remote = document.getElementById("remote-dialog");
      if (remote && typeof remote.showModal === "function" && window.fetch && window.DOMParser) {
        e.preventDefault();
        openRemote(remote, t.dataset.dialogSrc);
      }
      return;
    }
    if (t.dataset.open) {
      var target = document.getElementById(t.dataset.open);
      if (target && typeof target.showModal === "function") {
        e.preventDefault();
        target.showModal();
        var first = target.querySelector("input:not([type=hidden]), textarea, select");
        if (first) first.focus();
      }
      return;
    }
    if (t.dataset.reveal) {
      var input = document.getElementById(t.dataset.reveal);
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      t.setAttribute("aria-pressed", show ? "true" : "false");
      return;
    }
    if (t.dataset.copy) {
      var src = document.getElementById(t.dataset.copy);
      copyText(src.value).then(function () {
        t.classList.add("copied");
        t.setAttribute("title", "Copied");
        setTimeout(function () { t.classList.remove("copied"); t.setAttribute("title", "Copy"); }, 2000);
      }, function () {
        src.type = "text"; src.select();
      });
    }
  });
  // Loads the main section of one of our own pages into a dialog (its forms post as usual
  // and come back to this page).
  function openRemote(dialog, src) {
    dialog.dataset.src = src;
    fetch(src, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var section = doc.querySelector("main section.card");
      if (!section) throw new Error("no section");
      var back = location.pathname + location.search;
      section.querySelectorAll("input[name=_back]").forEach(function (i) { i.value = back; });
      var body = dialog.querySelector(".remote-body");
      body.replaceChildren(document.importNode(section, true));
      dialog.showModal();
      var first = body.querySelector("button, a");
      if (first) first.focus();
    }).catch(function () { location.href = src; });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return legacyCopy(text);
  }
  function legacyCopy(text) {
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text; ta.setAttribute("readonly", ""); ta.className = "sr-only";
      document.body.appendChild(ta); ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      document.body.removeChild(ta);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  // "Select all" checkboxes for bulk actions.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.dataset && t.dataset.selectAll) {
      document.querySelectorAll("input[type=checkbox][name='" + t.dataset.selectAll + "']").forEach(function (c) { c.checked = t.checked; });
    }
  });

  // Token picker: typing narrows the options on the server (there may be thousands).
  var pickerTimer = null;
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.dataset || !t.dataset.optionsSrc) return;
    clearTimeout(pickerTimer);
    pickerTimer = setTimeout(function () {
      var box = document.getElementById(t.dataset.optionsTarget);
      var params = new URLSearchParams();
      params.set("q", t.value);
      box.querySelectorAll("input[name=token]:checked").forEach(function (c) { params.append("token", c.value); });
      fetch(t.dataset.optionsSrc + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { box.innerHTML = html; })
        .catch(function () {});
    }, 200);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-options-src]").forEach(function (i) { i.hidden = false; });
  });

  // Live tail: new calls arrive over server-sent events as rendered rows.
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (!live || !window.EventSource) return;
    document.getElementById("live-toggle").hidden = false;
    var source = null;
    live.addEventListener("change", function () {
      if (live.checked) {
        source = new EventSource(live.dataset.stream);
        source.addEventListener("call", function (ev) {
          var body = document.getElementById("calls-body");
          body.insertAdjacentHTML("afterbegin", ev.data);
          var row = body.firstElementChild;
          if (row) row.classList.add("fresh");
          var empty = document.getElementById("no-calls");
          if (empty) empty.remove();
          while (body.children.length > 500) body.lastElementChild.remove();
        });
      } else if (source) {
        source.close(); source = null;
      }
    });
  });
})();
