/* faqbot chat widget. Embed with one tag:
 *   <script src="https://HOST/widget.js" data-lang="fr" defer></script>
 * Optional: data-title, data-color (any CSS colour), data-position="right"|"left".
 * Plain JavaScript, no dependencies. Every piece of text from the server or the visitor is
 * inserted with textContent / createTextNode, never parsed as HTML. */
(function () {
  'use strict';
  if (window.faqbotWidget) return;
  var d = document;
  var me = d.currentScript || d.querySelector('script[src*="widget.js"]');
  if (!me) return;
  var ds = me.dataset;
  var SRC = new URL(me.src, location.href);
  var LANG = /^en/i.test(ds.lang || d.documentElement.lang || '') ? 'en' : 'fr';

  var STR = {
    fr: {
      title: 'Assistant de la clinique',
      open: 'Ouvrir le chat', close: 'Fermer le chat',
      online: 'En ligne', connecting: 'Connexion…', offline: 'Hors ligne — reconnexion…',
      offlineBanner: 'Connexion perdue. Vos messages seront envoyés dès son retour.',
      welcome: 'Bonjour ! Je suis l’assistant automatique de la clinique. Posez-moi vos questions sur la thérapie par cellules souches pour le foie.',
      disclaimer: 'Mes réponses sont automatiques et ne remplacent pas l’avis d’un médecin.',
      placeholder: 'Écrivez votre question…', inputLabel: 'Votre message', send: 'Envoyer',
      you: 'Vous', bot: 'Assistant', advisor: 'Conseiller',
      source: 'Source : ', didYouMean: 'Vouliez-vous dire :', related: 'Questions liées :',
      human: 'Parler à un conseiller', humanOffer: 'Je n’ai pas trouvé de réponse sûre. Un conseiller peut vous aider :',
      waiting: 'En attente d’envoi…',
      queued: function (p) {
        return p == null ? 'En attente d’un conseiller…' : p <= 1 ? 'En attente d’un conseiller — vous êtes le prochain.' : 'En attente d’un conseiller — vous êtes n° ' + p + ' dans la file.';
      },
      queuedMsg: 'Votre demande a été transmise. Un conseiller va vous répondre ici même.',
      withAdvisor: function (n) { return 'En conversation avec ' + n; },
      joined: function (n) { return n + ' a rejoint la conversation.'; },
      someone: 'un conseiller',
      unavailable: 'Aucun conseiller n’est disponible pour le moment. Laissez vos coordonnées : nous vous recontacterons.',
      ended: 'La conversation avec le conseiller est terminée. L’assistant automatique reprend.',
      leaveContact: 'Laisser mes coordonnées',
      ctTitle: 'Laisser mes coordonnées',
      ctIntro: 'Un conseiller vous recontactera dès que possible. Les champs marqués * sont obligatoires.',
      ctName: 'Nom *', ctEmail: 'E-mail', ctPhone: 'Téléphone', ctOneOf: 'Indiquez au moins un e-mail ou un téléphone.',
      ctMessage: 'Message (facultatif)',
      ctConsent: 'J’accepte que la clinique conserve ces informations pour me recontacter. *',
      ctSend: 'Envoyer ma demande', ctBack: 'Retour à la conversation', ctSending: 'Envoi…',
      eName: 'Indiquez votre nom.',
      eReach: 'Indiquez un e-mail ou un numéro de téléphone pour que nous puissions vous recontacter.',
      eEmail: 'Cette adresse e-mail ne semble pas valide (exemple : nom@exemple.fr).',
      ePhone: 'Ce numéro de téléphone ne semble pas valide (exemple : +33 6 12 34 56 78).',
      eConsent: 'Cochez cette case pour que nous puissions enregistrer votre demande.',
      eSummary: 'Le formulaire contient des erreurs, corrigez les champs indiqués.',
      eOffline: 'Connexion perdue : votre demande n’a pas pu être envoyée. Réessayez dans un instant.',
      saved: 'Merci, votre demande a été enregistrée. Un conseiller vous recontactera.',
      error: 'Erreur : ', call: 'Appeler le 112', urgent: '⚠ Urgence',
      erased: 'Cette conversation a été effacée : plus rien n’en est conservé. Vous pouvez en commencer une nouvelle.',
      newConv: 'Nouvelle conversation', unread: function (n) { return n + ' nouveau(x) message(s)'; }
    },
    en: {
      title: 'Clinic assistant',
      open: 'Open the chat', close: 'Close the chat',
      online: 'Online', connecting: 'Connecting…', offline: 'Offline — reconnecting…',
      offlineBanner: 'Connection lost. Your messages will be sent as soon as it is back.',
      welcome: 'Hello! I am the clinic’s automated assistant. Ask me about stem cell therapy for the liver.',
      disclaimer: 'My answers are automated and do not replace a doctor’s advice.',
      placeholder: 'Type your question…', inputLabel: 'Your message', send: 'Send',
      you: 'You', bot: 'Assistant', advisor: 'Advisor',
      source: 'Source: ', didYouMean: 'Did you mean:', related: 'Related questions:',
      human: 'Talk to an advisor', humanOffer: 'I could not find a reliable answer. An advisor can help you:',
      waiting: 'Waiting to be sent…',
      queued: function (p) {
        return p == null ? 'Waiting for an advisor…' : p <= 1 ? 'Waiting for an advisor — you are next.' : 'Waiting for an advisor — you are number ' + p + ' in the queue.';
      },
      queuedMsg: 'Your request has been passed on. An advisor will answer you right here.',
      withAdvisor: function (n) { return 'Talking with ' + n; },
      joined: function (n) { return n + ' joined the conversation.'; },
      someone: 'an advisor',
      unavailable: 'No advisor is available right now. Leave your details and we will get back to you.',
      ended: 'The conversation with the advisor has ended. The automated assistant is back.',
      leaveContact: 'Leave my details',
      ctTitle: 'Leave my details',
      ctIntro: 'An advisor will get back to you as soon as possible. Fields marked * are required.',
      ctName: 'Name *', ctEmail: 'Email', ctPhone: 'Phone', ctOneOf: 'Give at least an email or a phone number.',
      ctMessage: 'Message (optional)',
      ctConsent: 'I agree that the clinic keeps this information to contact me. *',
      ctSend: 'Send my request', ctBack: 'Back to the conversation', ctSending: 'Sending…',
      eName: 'Enter your name.',
      eReach: 'Enter an email or a phone number so that we can get back to you.',
      eEmail: 'This email address does not look valid (example: name@example.com).',
      ePhone: 'This phone number does not look valid (example: +44 20 7946 0958).',
      eConsent: 'Tick this box so that we can save your request.',
      eSummary: 'The form has errors: please correct the fields shown.',
      eOffline: 'Connection lost: your request could not be sent. Please try again in a moment.',
      saved: 'Thank you, your request has been saved. An advisor will get back to you.',
      error: 'Error: ', call: 'Call 112', urgent: '⚠ Emergency',
      erased: 'This conversation has been erased: nothing of it is kept. You can start a new one.',
      newConv: 'New conversation', unread: function (n) { return n + ' new message(s)'; }
    }
  };
  var T = STR[LANG];
  var TITLE = ds.title || T.title;
  var COLOR = ds.color && window.CSS && CSS.supports('color', ds.color) ? ds.color : '#0b6e63';
  var POS = ds.position === 'left' ? 'left' : 'right';
  var KEY = 'faqbot:' + SRC.host;
  var MAXLEN = 2000;

  /* ---------- state ---------- */
  var saved = load();
  var st = {
    session: saved.s || null,
    lastSeq: saved.s && saved.q > 0 ? saved.q : 0,
    pending: Array.isArray(saved.p) ? saved.p.filter(function (p) { return p && p.id && Date.now() - p.at < 864e5; }) : [],
    ws: null, ready: false, attempt: 0, timer: 0, failed: false,
    mode: 'bot', status: null, advisor: null,
    rendered: false, open: false, unread: 0,
    contactPending: false, lastQuestion: '', replied: {}, els: {}
  };

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function persist() {
    try {
      localStorage.setItem(KEY, JSON.stringify({ s: st.session, q: st.lastSeq, p: st.pending.slice(-20) }));
    } catch (e) { /* storage disabled: the chat still works for this page */ }
  }
  function uid() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    if (c && c.getRandomValues) {
      var b = c.getRandomValues(new Uint8Array(16));
      return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    }
    return Date.now().toString(36) + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }

  /* ---------- DOM helpers (text only, never HTML) ---------- */
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
    (kids || []).forEach(function (c) {
      if (c) e.appendChild(typeof c === 'string' ? d.createTextNode(c) : c);
    });
    return e;
  }
  function icon(path, size) {
    var ns = 'http://www.w3.org/2000/svg';
    var s = d.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('width', size || 24);
    s.setAttribute('height', size || 24);
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    var p = d.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    p.setAttribute('fill', 'currentColor');
    s.appendChild(p);
    return s;
  }
  var I_CHAT = 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z';
  var I_CLOSE = 'M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7 4.3 4.3l6.3 6.3 6.3-6.3z';
  var I_SEND = 'M3 20.5 21 12 3 3.5l.01 6.6L15 12 3.01 13.9z';
  var I_PERSON = 'M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4 0-8 2-8 5v2h16v-2c0-3-4-5-8-5z';

  /* Answer text: paragraphs, line breaks, and lines starting with "- " as a list. */
  function rich(text) {
    var frag = d.createDocumentFragment();
    var list = null, para = null;
    String(text == null ? '' : text).split(/\r?\n/).forEach(function (line) {
      var m = /^\s*(?:[-•*])\s+(.*)$/.exec(line);
      if (m) {
        para = null;
        if (!list) frag.appendChild(list = h('ul'));
        list.appendChild(h('li', { text: m[1] }));
      } else if (!line.trim()) {
        list = para = null;
      } else {
        list = null;
        if (para) para.appendChild(h('br'));
        else frag.appendChild(para = h('p'));
        para.appendChild(d.createTextNode(line));
      }
    });
    return frag;
  }

  /* ---------- styles (inside the shadow root) ---------- */
  var CSS_TEXT = [
    ':host{all:initial!important;display:block!important;position:static!important}',
    '.fb,.fb *{box-sizing:border-box}',
    '.fb{--a:' + '#0b6e63' + ';font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2327;-webkit-font-smoothing:antialiased}',
    'button,input,textarea{font:inherit;color:inherit}',
    '.fb :focus-visible{outline:3px solid #1a5fd0;outline-offset:2px}',
    '.sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',
    '[hidden]{display:none!important}',
    '.launch{position:fixed;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;border:0;background:var(--a);color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.28)}',
    '.launch:hover{filter:brightness(1.1)}',
    '.right .launch{right:20px}.left .launch{left:20px}',
    '.badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#c62828;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}',
    '.off-dot{position:absolute;bottom:2px;right:2px;width:14px;height:14px;border-radius:50%;background:#9aa0a6;border:2px solid #fff}',
    '.panel{position:fixed;bottom:92px;z-index:2147483001;width:380px;max-width:calc(100vw - 24px);height:min(640px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.3);overflow:hidden}',
    '.right .panel{right:20px}.left .panel{left:20px}',
    '.head{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--a);color:#fff}',
    '.head h2{margin:0;font-size:16px;font-weight:700;line-height:1.25}',
    '.conn{margin:2px 0 0;font-size:12.5px;display:flex;align-items:center;gap:6px;opacity:.95}',
    '.dot{width:8px;height:8px;border-radius:50%;background:#7CFC9A;flex:none}',
    '.is-off .dot{background:#ffb4a9}.is-wait .dot{background:#ffe08a}',
    '.head .tt{flex:1;min-width:0}',
    '.x{flex:none;width:40px;height:40px;border:0;border-radius:8px;background:transparent;color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center}',
    '.x:hover{background:rgba(255,255,255,.18)}',
    '.bar{padding:8px 14px;font-size:13.5px;border-bottom:1px solid #e3e6e8}',
    '.st{background:#eef6f5;color:#0a4a43;font-weight:600}',
    '.offbar{background:#fff4e5;color:#6b3d00}',
    '.body{flex:1;min-height:0;display:flex;flex-direction:column;background:#f6f7f8}',
    '.log{flex:1;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:10px;overscroll-behavior:contain}',
    '.m{max-width:88%;display:flex;flex-direction:column;gap:4px}',
    '.m .b{padding:9px 12px;border-radius:14px;overflow-wrap:anywhere;white-space:normal}',
    '.m p{margin:0}.m p+p,.m p+ul,.m ul+p{margin-top:6px}',
    '.m ul{margin:4px 0 0;padding-left:20px}.m li{margin:2px 0}',
    '.who{font-size:12px;color:#5f6368;font-weight:600;padding:0 4px}',
    '.me{align-self:flex-end}.me .b{background:var(--a);color:#fff;border-bottom-right-radius:4px}',
    '.me .who{align-self:flex-end}',
    '.bot{align-self:flex-start}.bot .b{background:#fff;border:1px solid #dfe3e6;border-bottom-left-radius:4px}',
    '.adv{align-self:flex-start}.adv .b{background:#e8f0fe;border:1px solid #c6d7fb;border-bottom-left-radius:4px}.adv .who{color:#1a4fa8}',
    '.emg{align-self:stretch;max-width:100%}.emg .b{background:#fdecea;border:2px solid #c62828;color:#7f1010;font-weight:600}',
    '.emg .who{color:#c62828;text-transform:uppercase;letter-spacing:.03em}',
    '.call{display:inline-block;margin-top:8px;padding:8px 14px;border-radius:8px;background:#c62828;color:#fff;text-decoration:none;font-weight:700}',
    '.wait{font-size:12px;color:#6b3d00;align-self:flex-end}',
    '.src{font-size:12.5px;color:#5f6368;padding:0 4px}',
    '.sys{align-self:center;max-width:94%;text-align:center;font-size:13px;color:#3c4043;background:#eceff1;border-radius:10px;padding:7px 12px}',
    '.sys.err{background:#fdecea;color:#8a1c1c}.mt{margin-top:8px}',
    '.welcome{align-self:stretch;max-width:100%;background:#fff;border:1px solid #dfe3e6;border-radius:12px;padding:12px}',
    '.welcome p{margin:0}.welcome p+p{margin-top:6px}',
    '.welcome .disc{margin-top:8px;font-size:13px;color:#5f6368;border-left:3px solid var(--a);padding-left:8px}',
    '.sug{display:flex;flex-direction:column;align-items:flex-start;gap:6px;margin-top:2px}',
    '.sug p{margin:0;font-size:12.5px;color:#5f6368;padding:0 4px}',
    '.chip{text-align:left;border:1px solid var(--a);color:var(--a);background:#fff;border-radius:16px;padding:6px 12px;cursor:pointer;font-size:14px;max-width:100%}',
    '.chip:hover:not(:disabled){background:#eef6f5}.chip:disabled{opacity:.55;cursor:default}',
    '.offer{margin-top:4px;display:flex;flex-direction:column;align-items:flex-start;gap:6px}',
    '.offer p{margin:0;font-size:13px;color:#3c4043;padding:0 4px}',
    '.big{display:inline-flex;align-items:center;gap:8px;border:0;border-radius:10px;padding:10px 16px;background:var(--a);color:#fff;font-weight:700;cursor:pointer}',
    '.big:hover{filter:brightness(1.1)}',
    '.m-queued .offer,.m-advisor .offer,.m-queued .human,.m-advisor .human{display:none!important}',
    '.foot{border-top:1px solid #e3e6e8;background:#fff;padding:8px 10px 10px}',
    '.human{display:inline-flex;align-items:center;gap:6px;margin:0 0 8px;border:1px solid #c9ced2;background:#fff;border-radius:16px;padding:5px 12px;font-size:13.5px;cursor:pointer;color:#1d2327}',
    '.human:hover{border-color:var(--a);color:var(--a)}',
    '.human.hot{background:var(--a);border-color:var(--a);color:#fff;font-weight:700}',
    '.comp{display:flex;gap:8px;align-items:flex-end}',
    '.comp textarea{flex:1;min-width:0;resize:none;border:1px solid #c9ced2;border-radius:10px;padding:9px 11px;max-height:120px;min-height:42px;background:#fff;font-size:16px;line-height:1.35}',
    '.comp textarea:focus{border-color:var(--a)}',
    '.sendb{flex:none;width:44px;height:44px;border:0;border-radius:10px;background:var(--a);color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center}',
    '.sendb:disabled{opacity:.5;cursor:default}',
    '.ct{flex:1;overflow-y:auto;padding:14px 16px 18px;background:#fff}',
    '.ct h3{margin:0 0 6px;font-size:17px}',
    '.ct>p{margin:0 0 12px;font-size:13.5px;color:#3c4043}',
    '.f{display:flex;flex-direction:column;gap:4px;margin-bottom:12px}',
    '.f label{font-weight:600;font-size:14px}',
    '.f input,.f textarea{border:1px solid #9aa0a6;border-radius:8px;padding:9px 10px;font-size:16px;background:#fff;width:100%}',
    '.f textarea{min-height:74px;resize:vertical}',
    '.f [aria-invalid=true]{border-color:#c62828;box-shadow:0 0 0 1px #c62828}',
    '.e{margin:0;font-size:13px;color:#b3261e;font-weight:600}',
    '.hint{margin:-6px 0 12px;font-size:12.5px;color:#5f6368}',
    '.chk{display:flex;gap:10px;align-items:flex-start;font-size:14px;margin-bottom:4px}',
    '.chk input{width:20px;height:20px;margin:1px 0 0;flex:none}',
    '.sum{margin:0 0 12px;padding:8px 10px;border-radius:8px;background:#fdecea;color:#8a1c1c;font-size:13.5px;font-weight:600}',
    '.sum:empty{display:none}',
    '.acts{display:flex;flex-wrap:wrap;gap:8px;justify-content:space-between;margin-top:14px}',
    '.ghost{border:1px solid #c9ced2;background:#fff;border-radius:10px;padding:10px 14px;cursor:pointer}',
    '@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;border-radius:0}.open .launch{display:none}.launch{bottom:16px}.right .launch{right:16px}.left .launch{left:16px}}',
    '@media (prefers-reduced-motion:no-preference){.panel{animation:fbin .16s ease-out}@keyframes fbin{from{opacity:0;transform:translateY(8px)}}}'
  ].join('\n');

  /* ---------- build the UI ---------- */
  var host = d.createElement('faqbot-widget');
  var root = host.attachShadow ? host.attachShadow({ mode: 'closed' }) : host;
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.appendChild(h('style', { text: CSS_TEXT }));
  }

  var badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  var offDot = h('span', { class: 'off-dot', 'aria-hidden': 'true', hidden: true });
  var launcher = h('button', { class: 'launch', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'fb-panel', title: TITLE, onclick: function () { toggle(); } },
    [icon(I_CHAT, 28), badge, offDot]);
  var connText = h('span', { text: T.connecting });
  var conn = h('p', { class: 'conn is-wait', id: 'fb-conn' }, [h('span', { class: 'dot', 'aria-hidden': 'true' }), connText]);
  var statusBar = h('div', { class: 'bar st', role: 'status', hidden: true });
  var offBar = h('div', { class: 'bar offbar', role: 'status', hidden: true, text: T.offlineBanner });
  var log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': LANG === 'en' ? 'Conversation' : 'Conversation', tabindex: '0' });
  var input = h('textarea', { id: 'fb-input', rows: '1', maxlength: String(MAXLEN), placeholder: T.placeholder, autocomplete: 'off', enterkeyhint: 'send' });
  var sendBtn = h('button', { class: 'sendb', type: 'submit', 'aria-label': T.send, title: T.send }, [icon(I_SEND, 22)]);
  var humanBtn = h('button', { class: 'human', type: 'button', onclick: askHuman }, [icon(I_PERSON, 16), T.human]);
  var compose = h('form', { class: 'comp', onsubmit: function (e) { e.preventDefault(); submitText(); } },
    [h('label', { class: 'sr', for: 'fb-input', text: T.inputLabel }), input, sendBtn]);
  var foot = h('div', { class: 'foot' }, [humanBtn, compose]);
  var ct = buildContact();
  var body = h('div', { class: 'body' }, [log, ct.form]);
  var closeBtn = h('button', { class: 'x', type: 'button', 'aria-label': T.close, title: T.close, onclick: function () { toggle(false); } }, [icon(I_CLOSE, 22)]);
  var panel = h('section', { class: 'panel', id: 'fb-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'fb-title', 'aria-describedby': 'fb-conn', hidden: true },
    [h('div', { class: 'head' }, [h('div', { class: 'tt' }, [h('h2', { id: 'fb-title', text: TITLE }), conn]), closeBtn]),
     statusBar, offBar, body, foot]);
  var wrap = h('div', { class: 'fb m-bot ' + POS, lang: LANG }, [launcher, panel]);
  wrap.style.setProperty('--a', COLOR);
  root.appendChild(wrap);

  panel.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { e.preventDefault(); toggle(false); }
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitText(); }
  });
  input.addEventListener('input', grow);
  function grow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
  }

  var welcomeEl = h('div', { class: 'welcome' }, [h('p', { text: T.welcome }), h('p', { class: 'disc', text: T.disclaimer })]);
  log.appendChild(welcomeEl);
  updateLauncher();

  function mount() {
    (d.body || d.documentElement).appendChild(host);
  }
  if (d.body) mount(); else d.addEventListener('DOMContentLoaded', mount);

  /* ---------- open / close ---------- */
  function toggle(force) {
    var open = force == null ? !st.open : force;
    if (open === st.open) return;
    st.open = open;
    panel.hidden = !open;
    wrap.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', String(open));
    if (open) {
      st.unread = 0;
      updateLauncher();
      if (!st.ws && !st.timer) connect();
      scrollDown();
      (ct.form.hidden ? input : ct.first()).focus();
    } else {
      updateLauncher();
      launcher.focus();
    }
  }
  function updateLauncher() {
    launcher.setAttribute('aria-label', (st.open ? T.close : T.open + ' — ' + TITLE) + (st.unread ? ' (' + T.unread(st.unread) + ')' : ''));
    badge.textContent = st.unread > 9 ? '9+' : String(st.unread);
    badge.hidden = !st.unread || st.open;
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  /* ---------- messages ---------- */
  function bubble(cls, who, text, whoVisible) {
    var el = h('div', { class: 'm ' + cls }, [
      h('span', { class: whoVisible ? 'who' : 'who sr', text: who + (whoVisible ? '' : ' :') }),
      h('div', { class: 'b' }, [rich(text)])
    ]);
    log.appendChild(el);
    scrollDown();
    return el;
  }
  function notify(live) {
    if (live && !st.open) { st.unread++; updateLauncher(); }
  }
  function sys(text, err) {
    var el = h('div', { class: err ? 'sys err' : 'sys' }, [text]);
    log.appendChild(el);
    setTimeout(scrollDown);
    return el;
  }
  function mine(text, id, waiting) {
    var el = bubble('me', T.you, text, false);
    if (id) st.els[id] = el;
    if (waiting) el.appendChild(h('span', { class: 'wait', text: T.waiting }));
    return el;
  }
  function sent(id) {
    var el = st.els[id], w = el && el.querySelector('.wait');
    if (w) w.remove();
  }
  function reply(f, live) {
    if (f.reply_to) {
      ack(f.reply_to);
      if (st.replied[f.reply_to]) return;
      st.replied[f.reply_to] = 1;
    }
    var em = f.kind === 'emergency';
    var sg = Array.isArray(f.suggestions) ? f.suggestions.filter(function (s) { return s && s.faq_id; }) : [];
    var text = f.kind === 'clarify' && sg.length ? withoutList(f.text, sg) : f.text;
    var el = bubble(em ? 'emg' : 'bot', em ? T.urgent : T.bot, text, em);
    if (em) {
      el.setAttribute('role', 'alert');
      if (/\b112\b/.test(f.text || '')) el.appendChild(h('a', { class: 'call', href: 'tel:112', text: T.call }));
    }
    if (f.source) el.appendChild(h('p', { class: 'src', text: T.source + f.source }));
    if (sg.length) el.appendChild(suggest(f.kind === 'clarify' ? T.didYouMean : T.related, sg));
    if (f.handoff_offer || f.kind === 'handoff') {
      if (f.handoff_offer) humanBtn.classList.add('hot');
      el.appendChild(h('div', { class: 'offer' }, [
        f.kind === 'fallback' ? h('p', { text: T.humanOffer }) : null,
        h('button', { class: 'big', type: 'button', onclick: askHuman }, [icon(I_PERSON, 18), T.human])
      ]));
    }
    scrollDown();
    notify(live);
  }
  // A "did you mean" lists its suggestions in its text for transcripts and the command line;
  // here they are buttons, so their lines, and the line ending in ":" that introduces them,
  // would say them twice.
  function withoutList(text, sg) {
    var asked = sg.map(function (s) { return '- ' + (s.question || s.faq_id); });
    var lines = String(text || '').split('\n'), out = [];
    for (var i = 0; i < lines.length; i++) {
      if (asked.indexOf(lines[i]) >= 0) continue;
      if (/:\s*$/.test(lines[i]) && asked.indexOf(lines[i + 1]) >= 0) continue;
      out.push(lines[i]);
    }
    return out.join('\n');
  }
  function suggest(label, list) {
    var grp = h('div', { class: 'sug', role: 'group', 'aria-label': label }, [h('p', { text: label, 'aria-hidden': 'true' })]);
    list.forEach(function (s) {
      grp.appendChild(h('button', {
        class: 'chip', type: 'button', text: s.question || s.faq_id,
        onclick: function () {
          if (!send({ type: 'choose', faq_id: String(s.faq_id) })) return sys(T.offlineBanner, true);
          Array.prototype.forEach.call(grp.querySelectorAll('button'), function (b) { b.disabled = true; });
          mine(s.question || s.faq_id);
        }
      }));
    });
    return grp;
  }

  /* ---------- visitor actions ---------- */
  function submitText() {
    var text = input.value.trim();
    if (!text) return;
    input.value = '';
    grow();
    var p = { id: uid(), text: text.slice(0, MAXLEN), at: Date.now() };
    st.pending.push(p);
    persist();
    st.lastQuestion = p.text;
    var ok = st.ready && send({ type: 'message', text: p.text, id: p.id });
    mine(p.text, p.id, !ok);
    if (!st.ws && !st.timer) connect();
  }
  function askHuman() {
    if (!send({ type: 'handoff' })) return sys(T.offlineBanner, true);
    humanBtn.classList.remove('hot');
  }
  function ack(id) {
    var n = st.pending.length;
    st.pending = st.pending.filter(function (p) { return p.id !== id; });
    if (st.pending.length !== n) persist();
    sent(id);
  }
  function send(obj) {
    if (!st.ready || !st.ws || st.ws.readyState !== 1) return false;
    try { st.ws.send(JSON.stringify(obj)); return true; } catch (e) { return false; }
  }

  /* ---------- modes and handoff ---------- */
  function setMode(m) {
    st.mode = m === 'queued' || m === 'advisor' ? m : 'bot';
    wrap.classList.remove('m-bot', 'm-queued', 'm-advisor');
    wrap.classList.add('m-' + st.mode);
    if (st.mode !== 'bot') humanBtn.classList.remove('hot');
  }
  function showStatus(text) {
    statusBar.textContent = text || '';
    statusBar.hidden = !text;
  }
  function handoff(f, live) {
    var s = f.status, prev = st.status;
    st.status = s;
    if (s === 'queued') {
      setMode('queued');
      showStatus(T.queued(typeof f.position === 'number' ? f.position : null));
      if (prev !== 'queued') sys(T.queuedMsg);
    } else if (s === 'assigned') {
      setMode('advisor');
      st.advisor = f.advisor || st.advisor;
      var n = st.advisor || T.someone;
      showStatus(T.withAdvisor(n));
      sys(T.joined(n.charAt(0).toUpperCase() + n.slice(1)));
      notify(live);
    } else if (s === 'unavailable') {
      setMode('bot');
      showStatus('');
      var el = sys(T.unavailable);
      el.appendChild(h('div', { class: 'mt' }, [h('button', { class: 'big', type: 'button', onclick: function () { openContact(true); } }, [T.leaveContact])]));
      notify(live);
      if (live) openContact(st.open);
    } else if (s === 'ended') {
      setMode('bot');
      st.advisor = null;
      showStatus('');
      sys(T.ended);
      notify(live);
    }
  }

  /* ---------- contact form ---------- */
  function buildContact() {
    var f = {};
    function field(name, label, tag, attrs) {
      var id = 'fb-c-' + name;
      attrs.id = id; attrs.name = name;
      attrs.oninput = function () { clearErr(name); };
      attrs['aria-describedby'] = id + '-e' + (attrs['aria-describedby'] ? ' ' + attrs['aria-describedby'] : '');
      f[name] = h(tag, attrs);
      f[name + 'E'] = h('p', { class: 'e', id: id + '-e', hidden: true });
      return h('div', { class: 'f' }, [h('label', { for: id, text: label }), f[name], f[name + 'E']]);
    }
    f.sum = h('div', { class: 'sum', role: 'alert' });
    f.consent = h('input', { type: 'checkbox', id: 'fb-c-consent', 'aria-describedby': 'fb-c-consent-e', onchange: function () { clearErr('consent'); } });
    f.consentE = h('p', { class: 'e', id: 'fb-c-consent-e', hidden: true });
    f.submit = h('button', { class: 'big', type: 'submit', text: T.ctSend });
    f.form = h('form', { class: 'ct', novalidate: true, hidden: true, 'aria-labelledby': 'fb-c-t', onsubmit: submitContact }, [
      h('h3', { id: 'fb-c-t', tabindex: '-1', text: T.ctTitle }),
      h('p', { text: T.ctIntro }),
      f.sum,
      field('name', T.ctName, 'input', { type: 'text', autocomplete: 'name', maxlength: '200', required: true, 'aria-required': 'true' }),
      field('email', T.ctEmail, 'input', { type: 'email', autocomplete: 'email', maxlength: '200', 'aria-describedby': 'fb-c-hint' }),
      field('phone', T.ctPhone, 'input', { type: 'tel', autocomplete: 'tel', maxlength: '40', 'aria-describedby': 'fb-c-hint' }),
      h('p', { class: 'hint', id: 'fb-c-hint', text: T.ctOneOf }),
      field('message', T.ctMessage, 'textarea', { maxlength: String(MAXLEN), rows: '3' }),
      h('label', { class: 'chk', for: 'fb-c-consent' }, [f.consent, h('span', { text: T.ctConsent })]),
      f.consentE,
      h('div', { class: 'acts' }, [h('button', { class: 'ghost', type: 'button', text: T.ctBack, onclick: function () { openContact(false); input.focus(); } }), f.submit])
    ]);
    f.first = function () { return f.form.querySelector('h3'); };
    return f;
  }
  function openContact(show) {
    ct.form.hidden = !show;
    log.hidden = !!show;
    foot.hidden = !!show;
    if (show) {
      if (!ct.message.value && st.lastQuestion) ct.message.value = st.lastQuestion;
      if (st.open) ct.first().focus();
    } else scrollDown();
  }
  function fieldErr(name, msg) {
    var e = ct[name + 'E'];
    e.textContent = msg || '';
    e.hidden = !msg;
    if (msg) ct[name].setAttribute('aria-invalid', 'true'); else ct[name].removeAttribute('aria-invalid');
    return !msg;
  }
  /* A message goes as soon as its field is edited, so a corrected form shows no stale error. */
  function clearErr(name) {
    if (!ct[name + 'E']) return;
    fieldErr(name, '');
    if (name === 'phone' && ct.emailE.textContent === T.eReach) fieldErr('email', '');
    if (['name', 'email', 'phone', 'consent'].every(function (n) { return ct[n + 'E'].hidden; })) ct.sum.textContent = '';
  }
  function submitContact(e) {
    e.preventDefault();
    if (st.contactPending) return;
    var name = ct.name.value.trim(), email = ct.email.value.trim(), phone = ct.phone.value.trim(), msg = ct.message.value.trim();
    var bad = [];
    if (!fieldErr('name', name ? '' : T.eName)) bad.push(ct.name);
    var eMsg = !email && !phone ? T.eReach : email && !/^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(email) ? T.eEmail : '';
    if (!fieldErr('email', eMsg)) bad.push(ct.email);
    var pMsg = phone && !/^\+?[\d\s().\-\/]{6,25}$/.test(phone) || phone && phone.replace(/\D/g, '').length < 6 ? T.ePhone : '';
    if (!fieldErr('phone', pMsg)) bad.push(ct.phone);
    if (!fieldErr('consent', ct.consent.checked ? '' : T.eConsent)) bad.push(ct.consent);
    if (bad.length) {
      ct.sum.textContent = T.eSummary;
      bad[0].focus();
      return;
    }
    var frame = { type: 'contact', name: name, consent: true };
    if (email) frame.email = email;
    if (phone) frame.phone = phone;
    if (msg) frame.message = msg;
    if (!send(frame)) { ct.sum.textContent = T.eOffline; return; }
    ct.sum.textContent = '';
    st.contactPending = true;
    ct.submit.disabled = true;
    ct.submit.textContent = T.ctSending;
  }
  function contactDone(f) {
    if (f.status !== 'saved') return;
    st.contactPending = false;
    ct.submit.disabled = false;
    ct.submit.textContent = T.ctSend;
    ct.form.reset();
    ['name', 'email', 'phone', 'consent'].forEach(function (n) { fieldErr(n, ''); });
    ct.sum.textContent = '';
    openContact(false);
    sys(T.saved);
    if (st.open) input.focus();
  }

  /* ---------- connection ---------- */
  function wsUrl() {
    var q = ['lang=' + LANG, 'page=' + encodeURIComponent(location.href)];
    if (st.session) q.unshift('session=' + encodeURIComponent(st.session), 'last_seq=' + st.lastSeq);
    return (SRC.protocol === 'https:' ? 'wss://' : 'ws://') + SRC.host + '/ws?' + q.join('&');
  }
  function connect() {
    clearTimeout(st.timer);
    st.timer = 0;
    if (st.ws) return;
    setConn('wait');
    var ws;
    try { ws = new WebSocket(wsUrl()); } catch (e) { return retry(); }
    st.ws = ws;
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') frame(f);
    };
    ws.onclose = function (ev) {
      if (st.ws !== ws) return;
      st.ws = null;
      st.ready = false;
      if (st.contactPending) {
        st.contactPending = false;
        ct.submit.disabled = false;
        ct.submit.textContent = T.ctSend;
        ct.sum.textContent = T.eOffline;
      }
      if (ev && ev.code === GONE) return forget();
      retry();
    };
  }
  // The server erased this conversation (an advisor, at the visitor's request) or purged it:
  // nothing of it is kept on this screen or in this browser either; the next one starts afresh.
  var GONE = 4001;
  function forget() {
    st.session = null;
    st.lastSeq = 0;
    st.pending = [];
    st.replied = {};
    st.els = {};
    st.status = null;
    st.advisor = null;
    st.rendered = false;
    while (welcomeEl.nextSibling) log.removeChild(welcomeEl.nextSibling);
    showStatus('');
    setMode('bot');
    persist();
    sys(T.erased);
    st.attempt = 0;
    connect();
  }
  function retry() {
    st.ws = null;
    st.failed = true;
    setConn('off');
    var cap = Math.min(30000, 1000 * Math.pow(2, st.attempt++));
    st.timer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
  }
  function setConn(s) {
    conn.className = 'conn ' + (s === 'on' ? 'is-on' : s === 'off' ? 'is-off' : 'is-wait');
    connText.textContent = s === 'on' ? T.online : s === 'off' ? T.offline : T.connecting;
    offBar.hidden = s === 'on' || !st.failed;
    offDot.hidden = s === 'on' || !st.failed;
    sendBtn.setAttribute('aria-label', T.send);
  }
  window.addEventListener('online', function () {
    if (!st.ws && (st.timer || st.failed)) { st.attempt = 0; connect(); }
  });
  window.addEventListener('offline', function () {
    if (st.ws) try { st.ws.close(); } catch (e) { /* ignore */ }
  });

  /* ---------- incoming frames ---------- */
  function frame(f) {
    if (f.type === 'welcome') return welcome(f);
    if (typeof f.seq === 'number') {
      if (f.seq <= st.lastSeq) return; // already shown: replay overlap or duplicate
      st.lastSeq = f.seq;
      persist();
    }
    handle(f, true);
  }
  function handle(f, live) {
    switch (f.type) {
      case 'reply': return reply(f, live);
      case 'handoff': return handoff(f, live);
      case 'advisor_message':
        bubble('adv', f.advisor || st.advisor || T.advisor, f.text, true);
        return notify(live);
      case 'contact': return contactDone(f);
      case 'ack': return ack(f.id || f.reply_to);
      case 'message':
      case 'visitor_message':
        // An echo of a visitor message (another tab, or history): show once.
        if (f.id && st.els[f.id]) return ack(f.id);
        mine(f.text, f.id);
        if (f.id) ack(f.id);
        return;
      case 'error':
        if (st.contactPending && ct.form && !ct.form.hidden) {
          st.contactPending = false;
          ct.submit.disabled = false;
          ct.submit.textContent = T.ctSend;
          ct.sum.textContent = f.message || f.code || 'error';
          return;
        }
        sys(T.error + (f.message || f.code || ''), true);
        return notify(live);
    }
  }
  function historyItem(x) {
    if (!x || typeof x !== 'object') return;
    if (typeof x.seq === 'number' && x.seq > st.lastSeq) st.lastSeq = x.seq;
    if (x.type && x.type !== 'welcome') return handle(x, false);
    var from = x.from || x.role;
    if (from === 'visitor') {
      if (x.id && st.els[x.id]) return;
      mine(x.text, x.id);
      if (x.id) ack(x.id);
    } else if (from === 'advisor') {
      st.advisor = x.advisor || x.name || st.advisor;
      bubble('adv', x.advisor || x.name || T.advisor, x.text, true);
    }
    else if (from === 'system') sys(x.text);
    else reply(x, false);
  }
  function welcome(f) {
    var newConv = st.session && f.session && f.session !== st.session;
    if (newConv) {
      st.lastSeq = 0;
      st.replied = {};
      st.status = null;
      showStatus('');
      if (st.rendered) sys(T.newConv);
    }
    if (f.session) st.session = f.session;
    if (f.text) {
      // The server's welcome carries the disclaimer: it replaces the built-in one.
      welcomeEl.textContent = '';
      welcomeEl.appendChild(rich(f.text));
    }
    setMode(f.mode);
    if (f.mode === 'queued') showStatus(T.queued(null));
    if (f.mode === 'advisor') showStatus(T.withAdvisor(st.advisor || T.someone));
    if (f.mode === 'bot') showStatus('');
    if (!st.rendered && Array.isArray(f.history)) f.history.forEach(historyItem);
    // After a reload the advisor's name is known only from the history.
    if (st.mode === 'advisor' && st.advisor) showStatus(T.withAdvisor(st.advisor));
    st.rendered = true;
    st.ready = true;
    st.attempt = 0;
    st.failed = false;
    setConn('on');
    // Re-send what the server has not acknowledged, with the same ids: it never stores them twice.
    st.pending.forEach(function (p) {
      if (!st.els[p.id]) mine(p.text, p.id);
      if (send({ type: 'message', text: p.text, id: p.id })) sent(p.id);
    });
    persist();
  }

  // Resume at once when this browser already has a conversation; otherwise wait for the first open.
  if (st.session || st.pending.length) connect();

  window.faqbotWidget = { open: function () { toggle(true); }, close: function () { toggle(false); } };
})();
