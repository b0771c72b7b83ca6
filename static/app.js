// Progressive enhancement for the server-rendered pages (no inline script anywhere: the
// Content-Security-Policy allows only this file).
//  - form[data-busy]: on submit, disable its submit buttons and show the busy text (live
//    ServiceTitan checks take seconds; a second click must not send the form twice).
//  - [data-confirm]: asks before submitting (Disconnect, Withdraw).
//  - form[data-autosubmit] select: choosing an option sends the (GET) form.
//  - [data-same-for]: "same for all conditions" copies one row's choice into the trade's rows.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    var ask = form.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) {
      ev.preventDefault();
      return;
    }
    if (form.dataset.sending === "1") {
      ev.preventDefault();
      return;
    }
    var busy = form.getAttribute("data-busy");
    if (busy === null) return;
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    // Disable after the submit is under way, so the pressed button's value is still sent.
    window.setTimeout(function () {
      buttons.forEach(function (b) {
        b.disabled = true;
        if (busy) {
          b.dataset.label = b.textContent;
          b.textContent = busy;
        }
      });
    }, 0);
    var status = form.querySelector(".busy-status");
    if (status && busy) status.textContent = busy;
  });
  // Back/forward cache: a restored page must not keep its buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button").forEach(function (b) {
        b.disabled = false;
        if (b.dataset.label) b.textContent = b.dataset.label;
      });
    });
  });
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el instanceof HTMLSelectElement && el.form && el.form.hasAttribute("data-autosubmit")) {
      el.form.requestSubmit();
    }
  });
  document.addEventListener("click", function (ev) {
    var el = ev.target;
    if (!(el instanceof HTMLElement) || !el.hasAttribute("data-same-for")) return;
    var trade = el.getAttribute("data-same-for");
    var from = el.getAttribute("data-from");
    var src = document.querySelector("[name='" + from + "']");
    if (!src) return;
    document.querySelectorAll("[data-trade='" + trade + "']").forEach(function (sel) {
      if (sel !== src) sel.value = src.value;
    });
  });
})();
