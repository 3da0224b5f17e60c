/*
 * Keeps parts of the django_tasks_local admin pages live, without a reload.
 *
 * Every element with data-live-url is refreshed in place: its HTML is replaced
 * by the server-rendered fragment at that URL every data-live-interval
 * milliseconds. A fragment holding an element with data-live-final (a task
 * that has finished) is the last one fetched. Nothing is fetched while the tab
 * is hidden; a failed fetch marks the element (data-live-state="error") and is
 * tried again at the next tick. When the session has ended (the admin answers
 * with its login page), the page is reloaded, which leads to the login form.
 */
(function () {
  "use strict";

  function follow(element) {
    var url = element.dataset.liveUrl;
    var interval = Number(element.dataset.liveInterval) || 1000;
    var timer = null;

    function isFinal() {
      return element.querySelector("[data-live-final]") !== null;
    }

    function schedule() {
      if (timer === null && !document.hidden && !isFinal()) {
        timer = window.setTimeout(refresh, interval);
      }
    }

    function refresh() {
      fetch(url, {credentials: "same-origin", cache: "no-store"})
        .then(function (response) {
          if (response.redirected) {
            window.location.reload();
            throw new Error("signed out");
          }
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          element.innerHTML = html;
          element.dataset.liveState = "ok";
        })
        .catch(function () {
          element.dataset.liveState = "error";
        })
        .then(function () {
          timer = null;
          schedule();
        });
    }

    document.addEventListener("visibilitychange", schedule);
    schedule();
  }

  document.querySelectorAll("[data-live-url]").forEach(follow);
})();
