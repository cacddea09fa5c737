/* faqbot knowledge page, for support staff. No framework; every piece of data is inserted as text
 * (textContent), never as HTML. Talks to /api/login and /api/knowledge/… (see web/README.md). */
(function () {
  'use strict';
  var d = document;
  var $ = function (id) { return d.getElementById(id); };

  var st = {
    status: null, entries: [], lang: 'fr', view: 'entries',
    open: null,          // { id, lang, revision } of the entry in the editor; revision null = new
    checkTimer: 0, checkSeq: 0, dirty: false, saving: false,
    sections: []
  };

  /* ---------- helpers ---------- */
  var ui = window.faqbotUI, h = ui.h, clear = ui.clear, toast = ui.toast;
  function hhmm(ms) {
    var dt = new Date(typeof ms === 'number' ? ms : Date.parse(ms));
    return isNaN(dt.getTime()) ? '' : dt.toLocaleString('fr-FR', { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
  }
  function pct(x) { return Math.round(Number(x || 0) * 100) + ' %'; }
  function fold(s) {
    return String(s || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '');
  }
  function lines(s) { return String(s || '').split('\n').map(function (x) { return x.trim(); }).filter(Boolean); }
  function commas(s) { return String(s || '').split(',').map(function (x) { return x.trim(); }).filter(Boolean); }

  /* Every call: JSON in and out, the login cookie, errors as { status, body }. */
  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.ok) return j;
        if (r.status === 401) showLogin();
        if (r.status === 403) showLogin(j.message || 'Cette page est réservée au rôle support.');
        throw { status: r.status, body: j };
      });
    }, function () { throw { status: 0, body: { message: 'Le serveur est injoignable. Vérifiez votre connexion et réessayez.' } }; });
  }
  function message(err) { return (err && err.body && err.body.message) || 'Erreur inattendue (' + (err && err.status) + ').'; }
  function problemItem(p) {
    return h('li', { class: p.severity === 'warning' ? 'warn' : 'bad' }, [
      h('code', { text: (p.path || '').replace(/^.*?(faq|intents)\//, '$1/') + (p.line ? ':' + p.line : '') }),
      ' ', (p.severity === 'warning' ? 'remarque : ' : '') + (p.message || '')
    ]);
  }

  /* ---------- login ---------- */
  function showLogin(msg) {
    $('login').hidden = false;
    $('nav').hidden = $('tools').hidden = true;
    ['view-entries', 'view-missed', 'view-try', 'refused'].forEach(function (id) { $(id).hidden = true; });
    $('login-error').textContent = msg || '';
    $('token').focus();
  }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var token = $('token').value.trim();
    if (!token) { $('login-error').textContent = 'Collez votre jeton dans le champ ci-dessus.'; return; }
    $('login-btn').disabled = true;
    ui.login(token).then(function (refused) {
      $('login-btn').disabled = false;
      if (refused) { $('login-error').textContent = refused; return; }
      $('token').value = '';
      $('login').hidden = true;
      start();
    });
  });

  /* ---------- views ---------- */
  function setView(v) {
    st.view = v;
    $('view-entries').hidden = v !== 'entries';
    $('view-missed').hidden = v !== 'missed';
    $('view-try').hidden = v !== 'try';
    ['entries', 'missed', 'try'].forEach(function (x) {
      $('tab-' + x).setAttribute('aria-current', x === v ? 'page' : 'false');
    });
    if (v === 'missed') loadMissed();
    if (v === 'try') $('try-q').focus();
  }
  $('tab-entries').addEventListener('click', function () { setView('entries'); });
  $('tab-missed').addEventListener('click', function () { setView('missed'); });
  $('tab-try').addEventListener('click', function () { setView('try'); });

  function start() {
    return loadOverview().then(function () {
      $('login').hidden = true;
      $('nav').hidden = $('tools').hidden = false;
      setView(st.view);
    }, function () {});
  }

  /* ---------- overview: status and list ---------- */
  function loadOverview() {
    return api('GET', '/api/knowledge').then(function (j) {
      st.status = j.status;
      st.entries = j.entries || [];
      renderStatus();
      renderList();
    });
  }
  function renderStatus() {
    var s = st.status;
    if (!s) return;
    $('kstatus-text').textContent = 'Version ' + s.version + ' · ' + s.entries + ' entrées · chargée le ' + hhmm(s.loaded_at) +
      (s.watching ? ' · fichiers surveillés' : '');
    $('kstatus').className = 'conn ' + (s.refused ? 'off' : 'on');
    var r = s.refused;
    $('refused').hidden = !r;
    if (r) {
      $('refused-meta').textContent = 'Le ' + hhmm(r.at) + (r.by ? ', par ' + r.by : '') + ' :';
      clear($('refused-list'));
      r.problems.forEach(function (p) { $('refused-list').appendChild(problemItem(p)); });
    }
    // Load findings, then the quality gates (computed after each change, a moment later).
    var warnings = (s.problems || []).concat(s.quality || []);
    $('warnings').hidden = warnings.length === 0 && s.quality !== null;
    $('warnings-count').textContent = s.quality === null ? '…' : String(warnings.length);
    clear($('warnings-list'));
    if (s.quality === null) {
      $('warnings-list').appendChild(h('li', { class: 'help', text: 'Vérification de qualité en cours… (Recharger la liste dans un instant.)' }));
    }
    warnings.forEach(function (p) { $('warnings-list').appendChild(problemItem(p)); });
  }
  function renderList() {
    var q = fold($('search').value).split(/\s+/).filter(Boolean);
    var list = $('entries');
    clear(list);
    var shown = st.entries.filter(function (e) {
      if (e.lang !== st.lang) return false;
      var hay = fold(e.search);
      return q.every(function (w) { return hay.indexOf(w) >= 0; });
    });
    shown.forEach(function (e) {
      var current = st.open && st.open.id === e.id && st.open.lang === e.lang;
      list.appendChild(h('li', {}, [
        h('button', {
          type: 'button', class: 'ei', 'aria-current': current ? 'true' : 'false',
          'data-id': e.id, onclick: function () { openEntry(e.lang, e.id); }
        }, [
          h('span', { class: 'ei-q', text: e.question }),
          h('span', { class: 'ei-meta', text: e.id + ' · ' + e.phrasings + ' formulations' })
        ])
      ]));
    });
    $('count').textContent = String(shown.length);
    $('entries-empty').hidden = shown.length > 0;
    var sections = {};
    st.entries.forEach(function (e) { if (e.lang === st.lang) sections[e.section] = true; });
    clear($('sections'));
    Object.keys(sections).sort().forEach(function (s) { $('sections').appendChild(h('option', { value: s })); });
  }
  $('search').addEventListener('input', renderList);
  Array.prototype.forEach.call(d.querySelectorAll('input[name="lang-filter"]'), function (r) {
    r.addEventListener('change', function () { st.lang = r.value; renderList(); });
  });
  $('reload').addEventListener('click', function () {
    $('reload').disabled = true;
    api('POST', '/api/knowledge/reload').then(function (j) {
      st.status = j.status;
      toast(j.swapped ? 'Fichiers relus : version ' + j.status.version + ' en service.' : 'Fichiers relus, mais refusés : voir le bandeau.', !j.swapped);
      return loadOverview();
    }).catch(function (e) { toast(message(e), true); }).then(function () { $('reload').disabled = false; });
  });

  /* ---------- editor ---------- */
  function draft() {
    return {
      id: $('f-id').value.trim(), lang: $('f-lang').value,
      question: $('f-question').value, section: $('f-section').value,
      phrasings: lines($('f-phrasings').value),
      keywords: commas($('f-keywords').value), related: commas($('f-related').value),
      answer: $('f-answer').value
    };
  }
  function fill(e) {
    $('f-id').value = e.id || '';
    $('f-lang').value = e.lang || st.lang;
    $('f-question').value = e.question || '';
    $('f-section').value = e.section || '';
    $('f-phrasings').value = (e.phrasings || []).join('\n');
    $('f-answer').value = e.answer || '';
    $('f-keywords').value = (e.keywords || []).join(', ');
    $('f-related').value = (e.related || []).join(', ');
  }
  function showEditor(isNew) {
    $('editor-empty').hidden = true;
    $('editor').hidden = false;
    $('f-id').readOnly = !isNew;
    $('f-lang').disabled = !isNew;
    $('save-error').textContent = '';
    $('reopen').hidden = true;
    st.dirty = false;
    renderList();
  }
  function confirmLeave() {
    return !st.dirty || window.confirm('Vos modifications non enregistrées seront perdues. Continuer ?');
  }
  function openEntry(lang, id, then) {
    if (!confirmLeave()) return;
    setView('entries');
    api('GET', '/api/knowledge/entries/' + encodeURIComponent(lang) + '/' + encodeURIComponent(id)).then(function (j) {
      st.open = { id: j.entry.id, lang: j.entry.lang, revision: j.revision };
      fill(j.entry);
      $('editor-title').textContent = 'Modifier « ' + j.entry.id + ' » (' + j.entry.lang + ')';
      $('editor-meta').textContent = 'Fichier : ' + j.path;
      showEditor(false);
      if (then) then();
      scheduleCheck(0);
    }).catch(function (e) { toast(message(e), true); });
  }
  function newEntry(prefill) {
    if (!confirmLeave()) return;
    setView('entries');
    st.open = { id: null, lang: st.lang, revision: null };
    fill(prefill || { lang: st.lang });
    $('editor-title').textContent = 'Nouvelle entrée';
    $('editor-meta').textContent = 'Elle sera écrite dans faq/' + st.lang + '/<identifiant>.md. Pensez à la version dans l’autre langue.';
    showEditor(true);
    $('f-id').focus();
    if (prefill) st.dirty = true;
    scheduleCheck(0);
  }
  $('new-entry').addEventListener('click', function () { newEntry(); });

  /* Validation as you type: the server checks the draft as it would be saved. */
  function scheduleCheck(delay) {
    clearTimeout(st.checkTimer);
    st.checkTimer = setTimeout(runCheck, delay == null ? 500 : delay);
  }
  function runCheck() {
    var seq = ++st.checkSeq;
    var dr = draft();
    if (!dr.id) { renderCheck([{ message: 'Donnez un identifiant à l’entrée.' }]); return; }
    $('check-state').textContent = 'en cours…';
    api('POST', '/api/knowledge/check', { entry: dr }).then(function (j) {
      if (seq === st.checkSeq) renderCheck(j.problems || []);
    }).catch(function (e) {
      if (seq === st.checkSeq) { $('check-state').textContent = ''; renderCheck([{ message: message(e) }]); }
    });
  }
  function renderCheck(problems) {
    var list = $('check-list');
    clear(list);
    $('check-state').textContent = problems.length ? problems.length + ' point(s) à revoir' : 'aucun problème';
    $('check-state').className = problems.length ? 'help warn-text' : 'help ok-text';
    problems.forEach(function (p) { list.appendChild(problemItem(p)); });
  }
  $('editor').addEventListener('input', function () { st.dirty = true; scheduleCheck(); });
  $('editor').addEventListener('change', function () { scheduleCheck(); });

  $('editor').addEventListener('submit', function (e) {
    e.preventDefault();
    if (st.saving || !st.open) return;
    var dr = draft();
    $('save-error').textContent = '';
    if (!/^[a-z0-9_]+$/.test(dr.id)) {
      $('save-error').textContent = 'L’identifiant ne peut contenir que des minuscules, des chiffres et « _ ».';
      $('f-id').focus();
      return;
    }
    st.saving = true;
    $('save').disabled = true;
    api('PUT', '/api/knowledge/entries/' + encodeURIComponent(dr.lang) + '/' + encodeURIComponent(dr.id),
      { entry: dr, base_revision: st.open.revision }).then(function (j) {
      st.open = { id: dr.id, lang: dr.lang, revision: j.revision };
      st.dirty = false;
      $('f-id').readOnly = true;
      $('f-lang').disabled = true;
      $('editor-title').textContent = 'Modifier « ' + dr.id + ' » (' + dr.lang + ')';
      $('editor-meta').textContent = 'Fichier : ' + j.path;
      if (j.served) toast('Enregistré. En service (version ' + j.version + ').');
      else {
        toast('Enregistré dans le fichier, mais pas encore en service : voir le bandeau.', true);
      }
      return loadOverview();
    }).catch(function (err) {
      var b = err.body || {};
      $('save-error').textContent = message(err);
      if (b.problems) renderCheck(b.problems);
      // Someone saved first: keep this text, offer to reopen the saved version.
      $('reopen').hidden = err.status !== 409;
    }).then(function () { st.saving = false; $('save').disabled = false; });
  });
  $('reopen').addEventListener('click', function () {
    if (!st.open || !st.open.id) return;
    st.dirty = false;
    openEntry(st.open.lang, st.open.id);
  });
  $('try-this').addEventListener('click', function () {
    var first = lines($('f-phrasings').value)[0];
    setView('try');
    if (first) { $('try-q').value = first; $('try-lang').value = $('f-lang').value; runTry(); }
  });
  window.addEventListener('beforeunload', function (e) {
    if (st.dirty) { e.preventDefault(); e.returnValue = ''; }
  });

  /* ---------- try a question ---------- */
  var KINDS = { answer: 'Réponse', clarify: 'Vouliez-vous dire…', fallback: 'Pas de réponse', smalltalk: 'Politesse', handoff: 'Transfert à un conseiller', emergency: 'Urgence (112)' };
  function runTry() {
    var q = $('try-q').value.trim();
    if (!q) { $('try-q').focus(); return; }
    api('POST', '/api/knowledge/try', { question: q, lang: $('try-lang').value || null }).then(renderTry)
      .catch(function (e) { clear($('try-out')); $('try-out').appendChild(h('p', { class: 'error', text: message(e) })); });
  }
  $('try-form').addEventListener('submit', function (e) { e.preventDefault(); runTry(); });
  function renderTry(x) {
    var out = $('try-out');
    clear(out);
    var r = x.reply;
    out.appendChild(h('div', { class: 'verdict kind-' + r.kind }, [
      h('p', {}, [h('strong', { text: KINDS[r.kind] || r.kind }), ' · confiance ' + pct(r.confidence) +
        (r.faq_id ? ' · entrée ' : ''), r.faq_id ? h('code', { text: r.faq_id }) : null,
        ' · langue ' + x.lang + (x.lang_forced ? ' (imposée)' : ' (détectée)')]),
      h('p', { class: 'said', text: r.text }),
      r.source ? h('p', { class: 'help', text: 'Source : ' + r.source }) : null,
      r.suggestions && r.suggestions.length ? h('ul', {}, r.suggestions.map(function (s) {
        return h('li', { text: s.question + ' (' + s.faq_id + ')' });
      })) : null
    ]));
    out.appendChild(h('p', {}, [h('strong', { text: 'Pourquoi : ' }), x.reason]));
    var rows = x.tokens.map(function (t) {
      return h('tr', { class: t.stop ? 'stop' : '' }, [
        h('td', { text: t.word }), h('td', { text: t.corrected ? '→ ' + t.corrected : '' }),
        h('td', { text: t.stem }), h('td', { text: t.concept ? '#' + t.concept : '' }),
        h('td', { text: t.stop ? 'mot vide' : '' })
      ]);
    });
    out.appendChild(h('h3', { text: 'Mots lus' }));
    out.appendChild(h('div', { class: 'table-wrap' }, [h('table', { class: 'tokens' }, [
      h('thead', {}, [h('tr', {}, ['Mot', 'Faute corrigée', 'Racine', 'Synonyme', ''].map(function (c) { return h('th', { text: c }); }))]),
      h('tbody', {}, rows)
    ])]));
    if (x.unknown && x.unknown.length) {
      out.appendChild(h('p', { class: 'help', text: 'Mots inconnus de la base et du dictionnaire : ' + x.unknown.join(', ') }));
    }
    out.appendChild(h('h3', { text: 'Meilleurs candidats' }));
    out.appendChild(h('div', { class: 'table-wrap' }, [h('table', { class: 'cands' }, [
      h('thead', {}, [h('tr', {}, ['Entrée', 'Type', 'Confiance', 'Lexical', 'Couverture', 'Similarité', 'Rappel', 'N-grammes', 'Termes clés absents', 'Bayes'].map(function (c) { return h('th', { text: c }); }))]),
      h('tbody', {}, x.top.map(function (c) {
        var isFaq = c.kind === 'faq';
        return h('tr', {}, [
          h('td', {}, [isFaq ? h('button', { type: 'button', class: 'link', text: c.id, onclick: function () { openEntry(x.lang, c.id); } }) : h('span', { text: c.id })]),
          h('td', { text: c.kind }), h('td', { text: pct(c.confidence) }), h('td', { text: pct(c.lexical) }),
          h('td', { text: pct(c.coverage) }), h('td', { text: pct(c.similarity) }), h('td', { text: pct(c.recall) }),
          h('td', { text: pct(c.chars) }), h('td', { text: pct(c.core_missing) }),
          h('td', { text: pct(c.bayes) })
        ]);
      }))
    ])]));
  }

  /* ---------- missed questions ---------- */
  var OUTCOMES = { none: 'rien ensuite', picked: 'a choisi une suggestion', answered: 'a reformulé et obtenu une réponse', asked_again: 'a reposé une question', asked_person: 'a demandé un conseiller', other: 'autre' };
  var MISS_KINDS = { fallback: 'sans réponse', clarify: '« vouliez-vous dire »', low_confidence: 'réponse hésitante', handoff: 'transfert' };
  function loadMissed() {
    var since = $('missed-since').value;
    $('missed-status').textContent = 'Chargement…';
    api('GET', '/api/knowledge/missed' + (since ? '?since=' + encodeURIComponent(since) : '')).then(renderMissed)
      .catch(function (e) { $('missed-status').textContent = message(e); });
  }
  $('missed-refresh').addEventListener('click', loadMissed);
  $('missed-since').addEventListener('change', loadMissed);
  function renderMissed(j) {
    var s = j.stats || {};
    var rates = $('rates');
    clear(rates);
    rates.appendChild(h('p', { class: 'rate' }, [h('strong', { text: String(s.questions || 0) }), ' questions posées']));
    (s.kinds || []).forEach(function (k) {
      rates.appendChild(h('p', { class: 'rate' }, [h('strong', { text: pct(k.rate) }), ' ' + (KINDS[k.kind] || k.kind).toLowerCase() + ' (' + k.count + ')']));
    });
    var groups = j.groups || [];
    $('tab-missed-count').hidden = groups.length === 0;
    $('tab-missed-count').textContent = String(j.groups_total || groups.length);
    $('missed-status').textContent = groups.length ? '' : 'Rien de manqué sur cette période.';
    var list = $('groups');
    clear(list);
    groups.forEach(function (g) {
      var actions = [];
      var sug = g.suggestion;
      var examples = g.examples || [];
      if (sug && sug.faq_id) {
        actions.push(h('button', {
          type: 'button', class: 'primary',
          onclick: function () { addAsPhrasing(g.lang, sug.faq_id, examples); }
        }, ['Ajouter comme formulation de « ' + (sug.question || sug.faq_id) + ' »']));
      }
      (g.candidates || []).forEach(function (c) {
        if (c.is_intent || (sug && c.id === sug.faq_id)) return;
        actions.push(h('button', {
          type: 'button', class: 'secondary',
          onclick: function () { addAsPhrasing(g.lang, c.id, examples); }
        }, ['… ou de « ' + (c.question || c.id) + ' »']));
      });
      if (g.kind !== 'handoff') {
        actions.push(h('button', {
          type: 'button', class: 'secondary',
          onclick: function () { st.lang = g.lang; newEntry({ lang: g.lang, phrasings: examples, question: examples[0] || '' }); }
        }, ['Nouvelle entrée']));
      }
      list.appendChild(h('li', { class: 'group' }, [
        h('div', { class: 'g-top' }, [
          h('span', { class: 'pill', text: g.count + '×' }),
          h('span', { class: 'lang', text: g.lang }),
          h('span', { text: MISS_KINDS[g.kind] || g.kind }),
          h('span', { class: 'help', text: 'puis : ' + (OUTCOMES[g.outcome] || g.outcome) }),
          h('span', { class: 'help', text: 'dernière fois : ' + hhmm(g.last_at) })
        ]),
        h('ul', { class: 'examples' }, examples.map(function (q) { return h('li', { text: q }); })),
        g.candidates && g.candidates.length ? h('p', { class: 'help', text: 'Candidats : ' + g.candidates.map(function (c) {
          return c.id + (c.is_intent ? ' (intention)' : '') + ' ' + pct(c.confidence);
        }).join(', ') }) : null,
        h('div', { class: 'actions' }, actions)
      ]));
    });
  }
  function addAsPhrasing(lang, id, examples) {
    openEntry(lang, id, function () {
      var have = lines($('f-phrasings').value);
      var seen = {};
      have.forEach(function (p) { seen[fold(p)] = true; });
      examples.forEach(function (q) { if (!seen[fold(q)]) have.push(q); });
      $('f-phrasings').value = have.join('\n');
      st.dirty = true;
      $('f-phrasings').focus();
      toast('Formulation(s) ajoutée(s) au formulaire : vérifiez, puis enregistrez.');
    });
  }

  start();
})();
