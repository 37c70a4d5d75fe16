/* Tables for reports: the "copy table" buttons (an HTML table on the clipboard, so it pastes into
   Word / WPS / LibreOffice as a table with its header, plus tab-separated text for spreadsheets),
   and forms that keep the page's scroll position when they reload it.

   <button type="button" data-copy-table="ID" data-caption="…" hidden>复制表格</button> copies
   the table with id ID (shown once this script runs: without it the button does nothing).
   atlasTables.copy(table, caption) does the same for any table element (the map's lists). */
(function () {
  "use strict";

  function text(node) {
    return (node.innerText !== undefined ? node.innerText : node.textContent).replace(/\s+/g, " ").trim();
  }

  function escapeHtml(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  // A clean copy: cell text only (no page styles, classes, buttons or phone-card labels), header
  // cells as <th> (bold in Word / WPS), numbers right-aligned. HTML attributes, not style="":
  // Word keeps border="1", and the browser's clipboard sanitiser runs under the page's CSP,
  // which refuses inline styles.
  function tableHtml(table, caption) {
    var out = ['<table border="1" cellspacing="0" cellpadding="4">'];
    if (caption) out.push('<caption align="left"><b>' + escapeHtml(caption) + "</b></caption>");
    var rows = [];
    Array.prototype.forEach.call(table.rows, function (tr) {
      if (tr.hidden || tr.getAttribute("data-copy") === "skip") return;
      var cells = [];
      out.push("<tr>");
      Array.prototype.forEach.call(tr.cells, function (c) {
        var value = text(c), tag = c.tagName === "TH" ? "th" : "td";
        var numeric = /^[\d.,%–\-\s\/km²]+$/.test(value) && /\d/.test(value);
        var span = c.colSpan > 1 ? ' colspan="' + c.colSpan + '"' : "";
        out.push("<" + tag + span + ' align="' + (numeric ? "right" : "left") + '" valign="top">' + escapeHtml(value) + "</" + tag + ">");
        cells.push(value.replace(/\t/g, " "));
      });
      out.push("</tr>");
      rows.push(cells.join("\t"));
    });
    out.push("</table>");
    return { html: out.join(""), text: (caption ? caption + "\n" : "") + rows.join("\n") };
  }

  function viaCopyEvent(data) {  // works without a secure context (intranet http://10.x)
    var done = false;
    function onCopy(e) {
      e.clipboardData.setData("text/html", data.html);
      e.clipboardData.setData("text/plain", data.text);
      e.preventDefault();
      done = true;
    }
    document.addEventListener("copy", onCopy);
    try { document.execCommand("copy"); } finally { document.removeEventListener("copy", onCopy); }
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(table, caption) {
    var data = tableHtml(table, caption);
    if (window.isSecureContext && navigator.clipboard && window.ClipboardItem) {
      var item = new ClipboardItem({
        "text/html": new Blob([data.html], { type: "text/html" }),
        "text/plain": new Blob([data.text], { type: "text/plain" })
      });
      return navigator.clipboard.write([item]).catch(function () { return viaCopyEvent(data); });
    }
    return viaCopyEvent(data);
  }

  function flash(button, message) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = message;
    setTimeout(function () { button.textContent = label; }, 1800);
  }

  function wire(root) {
    (root || document).querySelectorAll("button[data-copy-table]").forEach(function (button) {
      if (button.getAttribute("data-wired")) return;
      button.setAttribute("data-wired", "1");
      button.hidden = false;
      button.addEventListener("click", function () {
        var table = document.getElementById(button.getAttribute("data-copy-table"));
        if (!table) return;
        copy(table, button.getAttribute("data-caption") || "").then(function () {
          button.setAttribute("data-copied", "1");
          flash(button, button.getAttribute("data-done") || "✓");
        }, function () { flash(button, button.getAttribute("data-failed") || "×"); });
      });
    });
  }

  // Forms with data-keep-scroll reload the page where it was (the belt width: the reader stays
  // at the belt, not at the top). The fragment in the form's action is the fallback without JS.
  var KEY = "atlas-scroll";
  function keepScroll() {
    document.querySelectorAll("form[data-keep-scroll]").forEach(function (form) {
      form.addEventListener("submit", function () {
        try { sessionStorage.setItem(KEY, JSON.stringify({ path: location.pathname, y: window.scrollY })); } catch (e) { /* private mode */ }
      });
    });
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); sessionStorage.removeItem(KEY); } catch (e) { saved = null; }
    if (saved && saved.path === location.pathname && typeof saved.y === "number") {
      // now, and again once loaded: the browser's own jump to the #fragment (the no-JS fallback)
      // comes after the document is parsed
      var restore = function () { window.scrollTo(0, saved.y); };
      restore();
      if (document.readyState !== "complete") window.addEventListener("load", function () { restore(); requestAnimationFrame(restore); });
      else requestAnimationFrame(restore);
    }
  }

  window.atlasTables = { copy: copy, html: tableHtml, wire: wire };
  function start() { wire(document); keepScroll(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
