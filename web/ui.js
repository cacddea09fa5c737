/* faqbot console pages (advisor console, knowledge page): the DOM helpers and the login both
 * use. Data is only ever inserted as text (textContent), never as HTML. Exposes
 * window.faqbotUI. */
(function () {
  'use strict';
  var d = document;
  /* h('p', { class: 'x', text: 'hi', onclick: fn }, [child, 'text']) */
  function h(tag, attrs, kids) {
    var e = d.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    (kids || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? d.createTextNode(c) : c); });
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  /* A message in the page's #toasts area; errors stay longer. */
  function toast(text, bad) {
    var t = h('div', { class: bad ? 'toast bad' : 'toast', text: text });
    d.getElementById('toasts').appendChild(t);
    setTimeout(function () { t.remove(); }, bad ? 9000 : 6000);
  }
  /* POST /api/login, then a check that the browser kept the session cookie. Resolves to null
   * when signed in, else to the message to show under the form (French, what to do). */
  function login(token) {
    return fetch('/api/login', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: token })
    }).then(function (r) {
      if (r.status === 429) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          var wait = Number(j.retry_after || r.headers.get('Retry-After')) || 60;
          return 'Trop de tentatives de connexion depuis votre adresse : réessayez dans ' + wait + ' s.';
        });
      }
      if (r.status === 401) return 'Ce jeton est refusé. Vérifiez qu’il est complet, ou demandez-en un nouveau à l’administrateur.';
      if (r.status === 403) return 'Le serveur refuse les connexions depuis cette adresse de page : ouvrez la console depuis l’adresse du serveur.';
      if (!r.ok) return 'Le serveur a répondu par une erreur (' + r.status + '). Réessayez dans un instant.';
      /* A Secure cookie sent to a page served over plain HTTP is dropped by the browser: the
       * login "works" and the next request is anonymous. Say so instead of looping. */
      return fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (me) {
        return me.ok ? null : 'Le jeton est accepté, mais le navigateur n’a pas gardé la session : ouvrez la console en HTTPS (ou demandez à l’administrateur de régler server.secure_cookie).';
      });
    }).catch(function () {
      return 'Le serveur est injoignable. Vérifiez votre connexion et réessayez.';
    });
  }
  window.faqbotUI = { h: h, clear: clear, toast: toast, login: login };
})();
