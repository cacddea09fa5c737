/* faqbot advisor console. No framework; every piece of data is inserted as text (textContent),
 * never as HTML. Talks to POST /api/login, GET /api/leads and the WebSocket /ws/advisor. */
(function () {
  'use strict';
  var d = document;
  var $ = function (id) { return d.getElementById(id); };
  var BASE_TITLE = d.title;
  var WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/advisor';

  var st = {
    ws: null, open: false, attempt: 0, timer: 0, started: false,
    me: null,                 // our advisor name, from the server's hello frame
    queue: [],                // the listed queue: the last queue frame and the changes since
    known: {},                // queue ids already seen (for "new visitor" alerts)
    fresh: {},                // queue ids arrived while the console was not looked at
    taken: {},                // id -> name of the colleague who claimed it
    claims: {},               // id -> { re } pending claims (re: taking back one we held)
    erasing: {},              // id -> true while our erase awaits the server's "erased"
    convs: {},                // id -> conversation we hold
    order: [],                // ids of our conversations, in claim order
    active: null,
    view: 'convs',
    sound: false, audio: null
  };

  /* ---------- helpers ---------- */
  var ui = window.faqbotUI, h = ui.h, clear = ui.clear, toast = ui.toast;
  function toDate(v) {
    if (v == null || v === '') return null;
    if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
    var n = Number(v);
    if (!isNaN(n)) return toDate(n);
    var t = Date.parse(v);
    return isNaN(t) ? null : new Date(t);
  }
  function hhmm(v) {
    var dt = toDate(v) || new Date();
    return dt.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
  }
  function since(v) {
    var dt = toDate(v);
    if (!dt) return '';
    var s = Math.max(0, Math.floor((Date.now() - dt.getTime()) / 1000));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  }
  function shortId(id) { return String(id || '').replace(/-/g, '').slice(0, 6).toUpperCase(); }
  function langName(l) { return l === 'en' ? 'anglais' : l === 'fr' ? 'français' : (l || '—'); }
  var REASONS = {
    asked: 'Le visiteur a demandé un conseiller', handoff: 'Le visiteur a demandé un conseiller',
    request: 'Le visiteur a demandé un conseiller', consultation: 'Demande de consultation',
    fallback: 'L’assistant n’a pas su répondre plusieurs fois', repeated_fallback: 'L’assistant n’a pas su répondre plusieurs fois',
    fallbacks: 'L’assistant n’a pas su répondre plusieurs fois', emergency: 'Urgence signalée'
  };
  function reason(r) { return r ? (REASONS[r] || String(r)) : null; }
  function pct(c) {
    var n = Number(c);
    if (isNaN(n)) return '';
    return Math.round(n <= 1 ? n * 100 : n) + ' %';
  }
  function pageLink(url) {
    if (!url) return null;
    var ok = false;
    try { ok = /^https?:$/.test(new URL(url).protocol); } catch (e) { ok = false; }
    return ok ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: url }) : h('span', { text: String(url) });
  }

  /* ---------- sound and title badge ---------- */
  function beep() {
    if (!st.sound) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      var ac = st.audio || (st.audio = new Ctx());
      if (ac.state === 'suspended') ac.resume();
      [0, 0.18].forEach(function (off, i) {
        var o = ac.createOscillator(), g = ac.createGain(), t = ac.currentTime + off;
        o.type = 'sine';
        o.frequency.value = i ? 1046 : 784;
        g.gain.setValueAtTime(0.0001, t);
        g.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
        o.connect(g); g.connect(ac.destination);
        o.start(t); o.stop(t + 0.16);
      });
    } catch (e) { /* no audio: the title badge still works */ }
  }
  function looking() { return !d.hidden && d.hasFocus(); }
  function updateTitle() {
    var n = Object.keys(st.fresh).length;
    st.order.forEach(function (id) { n += st.convs[id].unread || 0; });
    d.title = (n ? '(' + n + ') ' : '') + BASE_TITLE;
    var pill = $('tab-convs-count');
    pill.textContent = String(n);
    pill.hidden = !n;
    pill.className = 'pill alert';
  }
  function seen() {
    if (!looking() || st.view !== 'convs') return;
    var changed = Object.keys(st.fresh).length > 0;
    st.fresh = {};
    var c = st.active && st.convs[st.active];
    if (c && c.unread) { c.unread = 0; changed = true; }
    if (changed) { renderQueue(); renderMine(); updateTitle(); }
  }
  window.addEventListener('focus', seen);
  d.addEventListener('visibilitychange', seen);
  d.addEventListener('click', seen);

  $('sound').addEventListener('change', function () {
    st.sound = this.checked;
    try { localStorage.setItem('faqbot-advisor-sound', st.sound ? '1' : '0'); } catch (e) { /* ignore */ }
    if (st.sound) beep(); // a user gesture: unlocks audio and lets the advisor hear it
  });
  try { st.sound = localStorage.getItem('faqbot-advisor-sound') === '1'; } catch (e) { st.sound = false; }
  $('sound').checked = st.sound;

  /* ---------- login ---------- */
  function showLogin(msg) {
    stopSocket();
    $('login').hidden = false;
    $('view-convs').hidden = $('view-leads').hidden = $('nav').hidden = $('tools').hidden = true;
    $('login-error').textContent = msg || '';
    $('token').focus();
  }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var token = $('token').value.trim();
    if (!token) { $('login-error').textContent = 'Collez votre jeton de conseiller dans le champ ci-dessus.'; $('token').focus(); return; }
    $('login-btn').disabled = true;
    $('login-error').textContent = '';
    ui.login(token).then(function (refused) {
      $('login-btn').disabled = false;
      if (!refused) {
        $('token').value = '';
        start();
        return;
      }
      $('login-error').textContent = refused;
      $('token').focus();
    });
  });

  /* ---------- views ---------- */
  function setView(v) {
    st.view = v;
    $('view-convs').hidden = v !== 'convs';
    $('view-leads').hidden = v !== 'leads';
    $('tab-convs').setAttribute('aria-current', v === 'convs' ? 'page' : 'false');
    $('tab-leads').setAttribute('aria-current', v === 'leads' ? 'page' : 'false');
    if (v === 'leads') loadLeads();
    seen();
  }
  $('tab-convs').addEventListener('click', function () { setView('convs'); });
  $('tab-leads').addEventListener('click', function () { setView('leads'); });

  function start() {
    st.started = true;
    $('login').hidden = true;
    $('nav').hidden = $('tools').hidden = false;
    setView(st.view);
    connect();
    // Support staff also edit the knowledge: show them the way to its page.
    fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (me) { $('tab-knowledge').hidden = !(me && me.role === 'support'); }).catch(function () {});
  }

  /* ---------- WebSocket ---------- */
  function setConn(s, text) {
    $('conn').className = 'conn ' + s;
    $('conn-text').textContent = text;
  }
  function stopSocket() {
    clearTimeout(st.timer);
    st.timer = 0;
    if (st.ws) { var w = st.ws; st.ws = null; try { w.close(); } catch (e) { /* ignore */ } }
    st.open = false;
  }
  function connect() {
    clearTimeout(st.timer);
    st.timer = 0;
    if (st.ws) return;
    setConn('wait', 'Connexion…');
    var ws;
    try { ws = new WebSocket(WS_URL); } catch (e) { return retry(); }
    st.ws = ws;
    ws.onopen = function () {
      st.open = true;
      st.attempt = 0;
      setConn('on', 'Connecté — vous recevez les demandes');
      // Take back the conversations we held before a reload or a network drop: the server
      // answers with a fresh transcript, so nothing said meanwhile is missed.
      st.order.concat(storedMine()).forEach(function (id) {
        var c = st.convs[id];
        if ((!c || c.state === 'active') && !st.claims[id]) claim(id, true);
      });
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') frame(f);
    };
    ws.onclose = function (ev) {
      if (st.ws !== ws) return;
      var wasOpen = st.open;
      st.ws = null;
      st.open = false;
      if (ev.code === 4401 || ev.code === 1008) return showLogin('Votre session a expiré : reconnectez-vous avec votre jeton.');
      if (!wasOpen) {
        // Refused before opening: either the session is gone or the server is down.
        return probe().then(function (auth) {
          if (auth === 'no') showLogin('Votre session a expiré : reconnectez-vous avec votre jeton.');
          else retry();
        });
      }
      retry();
    };
  }
  function retry() {
    var cap = Math.min(30000, 1000 * Math.pow(2, st.attempt++));
    var delay = cap / 2 + Math.random() * cap / 2;
    setConn('off', 'Déconnecté — nouvelle tentative dans ' + Math.ceil(delay / 1000) + ' s');
    st.timer = setTimeout(connect, delay);
  }
  function send(obj) {
    if (!st.ws || !st.open) { toast('Vous êtes déconnecté : action impossible pour le moment. Reconnexion en cours…', true); return false; }
    st.ws.send(JSON.stringify(obj));
    return true;
  }
  window.addEventListener('online', function () { if (st.started && !st.ws) { st.attempt = 0; connect(); } });

  /* ---------- frames ---------- */
  function frame(f) {
    switch (f.type) {
      case 'hello': return onHello(f);
      case 'queue': return onQueue(f);
      case 'queue_added':
      case 'queue_updated': return onQueueItem(f);
      case 'queue_removed': return onQueueRemoved(f);
      case 'queue_total': return queueChanged(f.total, false);
      case 'transcript': return onTranscript(f);
      case 'visitor_message': return onVisitor(f);
      case 'claimed': return onClaimed(f);
      case 'erased': return onErased(f);
      case 'error': return onError(f);
    }
  }
  // The server says who this connection is: the one source of our name (claims won or lost,
  // "Vous" on our own messages).
  function onHello(f) {
    if (f.advisor == null) return;
    st.me = String(f.advisor);
    if (st.open) setConn('on', 'Connecté en tant que ' + st.me + ' — vous recevez les demandes');
  }
  // The whole queue when we connect; then each change as its own frame.
  function onQueue(f) {
    var list = Array.isArray(f.conversations) ? f.conversations.filter(function (c) { return c && c.id != null; }) : [];
    var arrived = false, ids = {};
    st.queue = [];
    list.forEach(function (c) {
      ids[c.id] = 1;
      if (listed(c)) arrived = true;
    });
    Object.keys(st.fresh).forEach(function (id) { if (!ids[id]) delete st.fresh[id]; });
    Object.keys(st.taken).forEach(function (id) { if (!ids[id]) delete st.taken[id]; });
    queueChanged(f.total, arrived);
  }
  // Puts a conversation in the list: in its place if listed, else at the end (the list is in
  // arrival order). True when this console had never seen it.
  function listed(c) {
    for (var i = 0; i < st.queue.length; i++) {
      if (st.queue[i].id === c.id) { st.queue[i] = c; return false; }
    }
    st.queue.push(c);
    if (st.known[c.id]) return false;
    st.known[c.id] = 1;
    if (!looking() || st.view !== 'convs') st.fresh[c.id] = 1;
    return true;
  }
  function onQueueItem(f) {
    if (!f.item || f.item.id == null) return;
    queueChanged(f.total, listed(f.item));
  }
  function onQueueRemoved(f) {
    var id = f.conversation;
    st.queue = st.queue.filter(function (x) { return x.id !== id; });
    delete st.fresh[id];
    delete st.taken[id];
    queueChanged(f.total, false);
  }
  function queueChanged(total, arrived) {
    // The server lists the first ones only; `total` says how many wait in all.
    st.queueTotal = typeof total === 'number' && total > st.queue.length ? total : st.queue.length;
    renderQueue();
    updateTitle();
    if (arrived) beep();
  }
  function claim(id, re) {
    if (!send({ type: 'claim', conversation: id })) return;
    // Won: the transcript comes. Lost: a "claimed" by a colleague, or an error naming it.
    st.claims[id] = { re: !!re };
    renderQueue();
  }
  function lost(id, by, msg) {
    var c = st.claims[id];
    delete st.claims[id];
    if (c && c.re) {
      // We thought we held it (reload / reconnect) but someone else has it now.
      var conv = st.convs[id];
      if (conv && conv.state === 'active') endConv(id, 'taken', 'Cette conversation est maintenant suivie par ' + (by || 'un autre conseiller') + '.');
      forgetMine(id);
      return;
    }
    st.taken[id] = by || 'un autre conseiller';
    renderQueue();
    toast(msg || ('Trop tard : ' + st.taken[id] + ' a déjà pris en charge cette conversation.'), true);
  }
  function onClaimed(f) {
    var id = f.conversation, by = f.by ? String(f.by) : '';
    if (st.claims[id]) {
      // Ours: the transcript has come or follows. Without a hello yet, wait for the
      // transcript or the error frame to tell.
      if (st.me && by !== st.me) lost(id, by);
      return;
    }
    if (st.convs[id] && st.convs[id].state === 'active') return;
    st.taken[id] = by || 'un autre conseiller';
    renderQueue();
  }
  // A conversation was erased by the advisor holding it (us, from this tab or another): nothing
  // of it is kept, so nothing of it stays on any console either.
  function onErased(f) {
    var id = f.conversation;
    var ours = !!st.convs[id];
    delete st.erasing[id];
    delete st.convs[id];
    delete st.taken[id];
    delete st.fresh[id];
    st.order = st.order.filter(function (x) { return x !== id; });
    forgetMine(id);
    if (st.active === id) st.active = null;
    renderQueue();
    renderMine();
    renderConv();
    updateTitle();
    if (ours) toast('Conversation du visiteur ' + shortId(id) + ' effacée : plus rien n’en est conservé.');
  }
  function onError(f) {
    var msg = f.message || f.code || 'erreur inconnue';
    var id = f.conversation; // the conversation the refused frame was about, when there is one
    if (id != null && st.erasing[id]) {
      delete st.erasing[id];
      if (st.active === id) renderConv();
    }
    if (id != null && st.claims[id]) {
      return lost(id, null, f.code === 'already_claimed'
        ? 'Trop tard : un collègue a déjà pris en charge cette conversation.'
        : 'Prise en charge impossible : ' + msg);
    }
    // The "claimed" frame naming the colleague has already said so.
    if (id != null && f.code === 'already_claimed' && st.taken[id]) return;
    if (id != null && st.convs[id] && st.active === id) $('reply-error').textContent = 'Le serveur a refusé : ' + msg;
    toast('Erreur du serveur : ' + msg, true);
  }
  function onTranscript(f) {
    var id = f.conversation;
    var c = st.claims[id];
    delete st.claims[id];
    var q = st.queue.filter(function (x) { return x.id === id; })[0] || {};
    var conv = st.convs[id];
    if (!conv) {
      conv = st.convs[id] = { id: id, preview: q.preview, lang: q.lang, card: q.card || null, waiting: q.waiting_since, messages: [], unread: 0, state: 'active', at: Date.now() };
      st.order.push(id);
      rememberMine(id);
    }
    conv.state = 'active';
    conv.messages = (Array.isArray(f.messages) ? f.messages : []).map(function (m) {
      var name = m.advisor || m.name;
      return { from: m.from, text: m.text, at: m.at, name: name, mine: m.from === 'advisor' && st.me != null && name === st.me };
    });
    if (!conv.preview) {
      var first = conv.messages.filter(function (m) { return m.from === 'visitor'; })[0];
      conv.preview = first && first.text;
    }
    delete st.taken[id];
    renderQueue();
    renderMine();
    if (!c || !c.re || !st.active) select(id);
    else if (st.active === id) renderConv();
  }
  function onVisitor(f) {
    var conv = st.convs[f.conversation];
    if (!conv) return;
    conv.messages.push({ from: 'visitor', text: f.text, at: f.at || Date.now() });
    if (st.active !== conv.id || !looking() || st.view !== 'convs') conv.unread = (conv.unread || 0) + 1;
    if (st.active === conv.id) appendMsg(conv.messages[conv.messages.length - 1]);
    renderMine();
    updateTitle();
    beep();
  }

  /* ---------- remembered conversations (survive a reload of this tab) ---------- */
  function storedMine() {
    try { return JSON.parse(sessionStorage.getItem('faqbot-advisor-mine')) || []; } catch (e) { return []; }
  }
  function rememberMine(id) {
    var l = storedMine();
    if (l.indexOf(id) < 0) l.push(id);
    try { sessionStorage.setItem('faqbot-advisor-mine', JSON.stringify(l)); } catch (e) { /* ignore */ }
  }
  function forgetMine(id) {
    try { sessionStorage.setItem('faqbot-advisor-mine', JSON.stringify(storedMine().filter(function (x) { return x !== id; }))); } catch (e) { /* ignore */ }
  }

  /* ---------- queue rendering ---------- */
  function cardList(card, fallback) {
    card = card || {};
    var rows = [];
    function row(label, value) { if (value != null && value !== '') rows.push(h('dt', { text: label }), h('dd', {}, [value])); }
    row('Motif', reason(card.reason));
    row('Dernière question', card.last_question && card.last_question !== fallback.preview ? String(card.last_question) : null);
    var cands = Array.isArray(card.candidates) ? card.candidates.filter(Boolean) : [];
    if (cands.length) {
      row('Pistes du bot', h('ul', {}, cands.slice(0, 3).map(function (x) {
        return h('li', {}, [String(x.question || x.id || ''), ' ', h('span', { class: 'conf', text: '(' + pct(x.confidence) + ')' })]);
      })));
    }
    row('Page', pageLink(card.page));
    return rows;
  }
  function renderQueue() {
    var ul = $('queue');
    clear(ul);
    $('q-count').textContent = String(st.queueTotal || st.queue.length);
    $('queue-empty').hidden = st.queue.length > 0;
    st.queue.forEach(function (q) {
      var taken = st.taken[q.id], pending = st.claims[q.id];
      var rows = cardList(q.card, q);
      var btn = h('button', {
        type: 'button', class: 'primary claim', disabled: !!(taken || pending),
        text: pending ? 'Prise en charge…' : 'Prendre en charge',
        'aria-label': 'Prendre en charge le visiteur ' + shortId(q.id),
        onclick: function () { claim(q.id); }
      });
      ul.appendChild(h('li', { class: 'qi' + (st.fresh[q.id] ? ' new' : '') + (taken ? ' taken' : '') }, [
        h('div', { class: 'qi-top' }, [
          h('span', {}, ['Visiteur ' + shortId(q.id) + ' ', h('span', { class: 'lang', title: 'Langue : ' + langName(q.lang || (q.card && q.card.lang)), text: q.lang || (q.card && q.card.lang) || '?' }),
            st.fresh[q.id] ? h('span', { class: 'badge-new', text: ' Nouveau' }) : null]),
          h('span', {}, ['attend depuis ', h('span', { class: 'wait', 'data-since': q.waiting_since == null ? '' : String(q.waiting_since), text: since(q.waiting_since) || '—' })])
        ]),
        h('p', { class: 'qi-q', text: q.preview || (q.card && q.card.last_question) || '(pas encore de question)' }),
        rows.length ? h('dl', {}, rows) : null,
        taken ? h('p', { class: 'lost', text: 'Déjà prise en charge par ' + taken + '.' }) : btn
      ]));
    });
    var more = (st.queueTotal || 0) - st.queue.length;
    if (more > 0) {
      ul.appendChild(h('li', { class: 'qi more', text: 'et ' + more + (more > 1 ? ' autres visiteurs attendent' : ' autre visiteur attend') + ' : ils apparaîtront ici à mesure que la file avance.' }));
    }
  }
  setInterval(function () {
    Array.prototype.forEach.call(d.querySelectorAll('.wait[data-since]'), function (el) {
      var v = el.getAttribute('data-since');
      if (v) el.textContent = since(isNaN(Number(v)) ? v : Number(v));
    });
  }, 1000);

  /* ---------- my conversations ---------- */
  var STATE = { active: 'en cours', released: 'rendue à l’assistant', closed: 'close', taken: 'reprise par un collègue' };
  function renderMine() {
    var ul = $('mine');
    clear(ul);
    $('mine-empty').hidden = st.order.length > 0;
    st.order.forEach(function (id) {
      var c = st.convs[id];
      ul.appendChild(h('li', {}, [h('button', {
        type: 'button', class: 'mi', 'aria-current': st.active === id ? 'true' : 'false',
        onclick: function () { select(id); }
      }, [
        h('span', { class: 'mi-text' }, [
          h('span', { class: 'mi-name', text: 'Visiteur ' + shortId(id) + (c.lang ? ' · ' + String(c.lang).toUpperCase() : '') }),
          h('span', { class: 'mi-prev', text: lastText(c) }),
          h('span', { class: 'mi-state', text: STATE[c.state] || c.state })
        ]),
        c.unread ? h('span', { class: 'pill alert', 'aria-label': c.unread + ' message(s) non lu(s)', text: String(c.unread) }) : null
      ])]));
    });
  }
  function lastText(c) {
    var m = c.messages[c.messages.length - 1];
    return m ? String(m.text || '') : String(c.preview || '');
  }
  function select(id) {
    st.active = id;
    var c = st.convs[id];
    if (c) c.unread = 0;
    setView('convs');
    renderMine();
    renderConv();
    updateTitle();
    if (c && c.state === 'active') $('reply').focus();
  }

  /* ---------- the selected conversation ---------- */
  var WHO = { visitor: 'Visiteur', bot: 'Assistant automatique', advisor: 'Conseiller', system: 'Information' };
  function appendMsg(m) {
    var from = WHO[m.from] ? m.from : 'system';
    var who = from === 'advisor' ? (m.mine ? 'Vous' : 'Conseiller' + (m.name ? ' (' + m.name + ')' : '')) : WHO[from];
    var li = h('li', { class: 'msg ' + from }, [
      h('p', { class: 'who' }, [h('span', { text: who }), m.at ? h('time', { text: hhmm(m.at) }) : null]),
      h('p', { class: 'text', text: String(m.text == null ? '' : m.text) })
    ]);
    var tr = $('transcript');
    tr.appendChild(li);
    tr.scrollTop = tr.scrollHeight;
  }
  function renderConv() {
    var c = st.active && st.convs[st.active];
    $('conv-empty').hidden = !!c;
    $('conv-view').hidden = !c;
    if (!c) return;
    $('conv-title').textContent = 'Visiteur ' + shortId(c.id);
    var meta = ['Langue : ' + langName(c.lang || (c.card && c.card.lang)), 'pris en charge à ' + hhmm(c.at)];
    $('conv-meta').textContent = meta.join(' · ');
    var card = $('card');
    clear(card);
    var rows = cardList(c.card, {});
    if (rows.length) {
      card.appendChild(h('h3', { text: 'Fiche de transfert (pourquoi ce visiteur vous est passé)' }));
      card.appendChild(h('dl', {}, rows));
    }
    var tr = $('transcript');
    clear(tr);
    if (!c.messages.length) appendMsg({ from: 'system', text: 'Aucun message pour l’instant.' });
    c.messages.forEach(appendMsg);
    var active = c.state === 'active';
    $('reply-form').hidden = !active;
    $('btn-release').hidden = $('btn-close').hidden = $('btn-erase').hidden = !active;
    var erasing = !!st.erasing[c.id];
    $('btn-erase').disabled = erasing;
    $('btn-erase').textContent = erasing ? 'Effacement…' : 'Effacer la conversation';
    $('btn-dismiss').hidden = active;
    $('conv-ended').hidden = active;
    $('conv-ended').textContent = active ? '' : (c.endText || 'Conversation terminée.');
    $('reply-error').textContent = '';
  }
  function endConv(id, state, text) {
    var c = st.convs[id];
    if (!c) return;
    c.state = state;
    c.endText = text;
    forgetMine(id);
    renderMine();
    if (st.active === id) renderConv();
  }

  $('reply-form').addEventListener('submit', function (e) {
    e.preventDefault();
    sendReply();
  });
  $('reply').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendReply(); }
  });
  function sendReply() {
    var c = st.active && st.convs[st.active];
    var text = $('reply').value.trim();
    $('reply-error').textContent = '';
    if (!c || c.state !== 'active') return;
    if (!text) { $('reply-error').textContent = 'Écrivez un message avant d’envoyer.'; return; }
    if (!send({ type: 'message', conversation: c.id, text: text })) { $('reply-error').textContent = 'Déconnecté : message non envoyé. Il est resté dans la zone de saisie.'; return; }
    $('reply').value = '';
    var m = { from: 'advisor', text: text, at: Date.now(), mine: true };
    c.messages.push(m);
    appendMsg(m);
    renderMine();
  }
  $('btn-release').addEventListener('click', function () {
    var c = st.convs[st.active];
    if (!c || !send({ type: 'release', conversation: c.id })) return;
    endConv(c.id, 'released', 'Conversation rendue à l’assistant automatique : il répond de nouveau au visiteur.');
    toast('Conversation rendue à l’assistant automatique.');
  });
  $('btn-close').addEventListener('click', function () {
    var c = st.convs[st.active];
    if (!c) return;
    if (!window.confirm('Clore la conversation avec le visiteur ' + shortId(c.id) + ' ? Le visiteur en sera informé.')) return;
    if (!send({ type: 'close', conversation: c.id })) return;
    endConv(c.id, 'closed', 'Conversation close.');
    toast('Conversation close.');
  });
  $('btn-erase').addEventListener('click', function () {
    var c = st.convs[st.active];
    if (!c || c.state !== 'active' || st.erasing[c.id]) return;
    if (!window.confirm('Effacer définitivement la conversation avec le visiteur ' + shortId(c.id) + ' ? Ses messages, ses demandes de contact et tout ce qui a été enregistré avec elle seront supprimés, sans retour possible. Le chat du visiteur sera fermé.')) return;
    if (!send({ type: 'erase', conversation: c.id })) return;
    // Removed from the screen when the server says it is done ("erased"), not before: it may refuse.
    st.erasing[c.id] = true;
    renderConv();
  });
  $('btn-dismiss').addEventListener('click', function () {
    var id = st.active;
    delete st.convs[id];
    st.order = st.order.filter(function (x) { return x !== id; });
    st.active = null;
    renderMine();
    renderConv();
  });

  /* ---------- contact requests ---------- */
  var COLS = [
    ['created_at', 'Reçue le'], ['at', 'Reçue le'], ['date', 'Reçue le'], ['name', 'Nom'], ['email', 'E-mail'], ['phone', 'Téléphone'],
    ['message', 'Message'], ['lang', 'Langue'], ['consent', 'Consentement'], ['page', 'Page'], ['conversation', 'Conversation']
  ];
  function cell(k, v) {
    if (v == null || v === '') return '—';
    if (k === 'consent') return v === true || v === 1 || v === 'true' ? 'Oui' : 'Non';
    if (/(_at|^at|date)$/.test(k)) {
      var dt = toDate(v);
      return dt ? dt.toLocaleString('fr-FR', { dateStyle: 'short', timeStyle: 'short' }) : String(v);
    }
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  function loadLeads() {
    var status = $('leads-status');
    status.textContent = 'Chargement des demandes…';
    fetch('/api/leads', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (r.status === 401 || r.status === 403) { showLogin('Votre session a expiré : reconnectez-vous avec votre jeton.'); return null; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (j) {
      if (!j) return;
      var rows = Array.isArray(j) ? j : (j.leads || j.contacts || j.requests || []);
      renderLeads(rows.filter(function (x) { return x && typeof x === 'object'; }));
    }).catch(function (e) {
      status.textContent = 'Impossible de charger les demandes (' + e.message + '). Cliquez sur « Actualiser » pour réessayer.';
    });
  }
  function renderLeads(rows) {
    var keys = [], labels = {};
    COLS.forEach(function (c) {
      if (rows.some(function (r) { return c[0] in r; }) && !keys.some(function (k) { return labels[k] === c[1]; })) { keys.push(c[0]); labels[c[0]] = c[1]; }
    });
    rows.forEach(function (r) {
      Object.keys(r).forEach(function (k) { if (!(k in labels) && k !== 'id' && !COLS.some(function (c) { return c[0] === k; })) { keys.push(k); labels[k] = k; } });
    });
    var head = $('leads-headrow'), body = $('leads-body');
    clear(head); clear(body);
    keys.forEach(function (k) { head.appendChild(h('th', { scope: 'col', text: labels[k] })); });
    rows.forEach(function (r) { body.appendChild(h('tr', {}, keys.map(function (k) { return h('td', { text: cell(k, r[k]) }); }))); });
    $('leads-table').hidden = !rows.length;
    $('leads-status').textContent = rows.length
      ? rows.length + ' demande(s) de contact. Mise à jour à ' + hhmm(Date.now()) + '.'
      : 'Aucune demande de contact pour le moment.';
  }
  $('leads-refresh').addEventListener('click', loadLeads);

  /* ---------- start: are we already logged in (cookie)? ---------- */
  function probe() {
    return fetch('/api/leads', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.status === 401 || r.status === 403 ? 'no' : r.ok ? 'yes' : 'unknown'; })
      .catch(function () { return 'unknown'; });
  }
  probe().then(function (auth) {
    if (auth === 'no') showLogin();
    else start();
  });
  renderQueue();
  renderMine();
  renderConv();
})();
