/* faqbot console pages (advisor console, knowledge page): the DOM helpers both use. Data is
 * only ever inserted as text (textContent), never as HTML. Exposes window.faqbotUI. */
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
  window.faqbotUI = { h: h, clear: clear, toast: toast };
})();
