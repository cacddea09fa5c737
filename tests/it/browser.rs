//! The product as people meet it: the demo page, the chat widget and the advisor console, in
//! headless Chromium driven by chromedriver (fantoccini), against the real server on port 0.
//!
//! Covers, in one sequential story (each step needs the state the previous one left):
//! - a visitor opens the demo page `/`, opens the widget, asks the cost and sees the answer with
//!   its source;
//! - a visitor message `<img src=x onerror=alert(1)>` is shown as text and runs nothing, in the
//!   widget and in the console;
//! - with no advisor online, asking for one opens the contact form; it is filled, sent, and the
//!   request shows in the console's "Demandes de contact" view;
//! - an advisor logs in (second browser session) on `/advisor`, the visitor asks for an advisor,
//!   the advisor sees them in the queue, claims, reads the transcript (bot part included), replies;
//!   the visitor sees the reply with the advisor's name;
//! - the console names the advisor as the server's `hello` frame does;
//! - axe-core's WCAG 2 AA `color-contrast` rule finds no text in the console under the minimum
//!   contrast, with the contact requests, the queue and a conversation on screen;
//! - the visitor reloads the page: the conversation is still there, each message once;
//! - the advisor erases the conversation (« Effacer la conversation », confirmed): it leaves the
//!   console, and the widget shows none of it and starts afresh;
//! - the pages carry their security headers.
//!
//! Screenshots (widget at 1280×800 and at 360×740, console) go to `test-screenshots/` in the
//! cargo target folder. Without `chromium` and `chromedriver` the test fails and says what to
//! install: it never skips.
//!
//! The widget lives in a *closed* shadow root, which page scripts cannot reach. The test asks
//! Chromium (DevTools `Page.addScriptToEvaluateOnNewDocument`, through chromedriver) to keep a
//! reference to it when it is attached, so the widget itself ships no test hook.

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use faqbot::clock::now_ms;
use faqbot::config::Settings;
use faqbot::live::Live;
use faqbot::secret::{hash_token, new_token};
use faqbot::server::AppState;
use faqbot::store::SqliteStore;

/// How long any one expected change on screen may take.
const WAIT: Duration = Duration::from_secs(15);
const ADVISOR: &str = "Claire";
const SUPPORT: &str = "Sophie";
const XSS: &str = "<img src=x onerror=alert(1)>";

/// Runs in every document of the visitor's browser before the page's own scripts: keeps the
/// widget's closed shadow root where the test can read it, and records any `alert()`.
const HOOK: &str = r#"
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    if (this.localName === 'faqbot-widget') window.__faqbotShadow = root;
    return root;
  };
  window.__alerts = 0;
  window.alert = function () { window.__alerts++; };
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_advisor_chat_through_the_real_pages_in_chromium() {
    let started = Instant::now();
    let app = spawn_app().await;
    let driver = ChromeDriver::start();
    let shots = screenshot_dir();

    check_security_headers(&app).await;

    // --- The visitor asks the cost on the demo page.
    let visitor = driver.session(1280, 800).await;
    driver.hook_shadow_roots(&visitor).await;
    visitor
        .goto(&app.url("/"))
        .await
        .expect("open the demo page");
    let title = visitor.title().await.expect("title");
    assert!(
        title.contains("cellules souches"),
        "demo page title: {title}"
    );
    shadow(&visitor, "button.launch")
        .await
        .click()
        .await
        .expect("click the chat launcher");
    wait_js(
        &visitor,
        "the widget to connect (header says « En ligne »)",
        "return R.querySelector('.conn').textContent === 'En ligne'",
    )
    .await;
    say(&visitor, "combien coûte le traitement ?").await;
    let answer = wait_js(
        &visitor,
        "the cost answer with its source",
        "const m = [...R.querySelectorAll('.log .m.bot')].find(m => m.textContent.includes('7 000'));
         const src = m && m.querySelector('.src');
         return src ? src.textContent : null",
    )
    .await;
    assert!(
        answer.as_str().is_some_and(|s| s.starts_with("Source : ")),
        "the answer shows where it comes from: {answer}"
    );
    save_screenshot(&visitor, &shots, "widget-answer-1280x800.png").await;

    // --- A "did you mean": its suggestions are buttons, not also lines of its text, and the
    // bubble names 112 for severe symptoms.
    say(&visitor, "foie abimé").await;
    let clarify = wait_js(
        &visitor,
        "a « did you mean » with its suggestions",
        "const m = [...R.querySelectorAll('.log .m.bot')].find(m => m.textContent.includes('Vouliez-vous dire'));
         if (!m) return null;
         const chips = [...m.querySelectorAll('.sug button')].map(b => b.textContent);
         const bubble = m.textContent.split('Vouliez-vous dire')[0];
         return { chips, bubble }",
    )
    .await;
    let chips: Vec<&str> = clarify["chips"]
        .as_array()
        .expect("suggestion buttons")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    let bubble = clarify["bubble"].as_str().unwrap_or_default();
    assert!(!chips.is_empty(), "{clarify}");
    for chip in &chips {
        assert!(!bubble.contains(chip), "« {chip} » is said twice: {bubble}");
    }
    assert!(bubble.contains("112"), "{bubble}");

    // --- Markup typed by a visitor stays text.
    let bots_before = count(&visitor, ".log .m.bot").await;
    say(&visitor, XSS).await;
    wait_js(
        &visitor,
        "the bot to answer the markup message",
        &format!("return R.querySelectorAll('.log .m.bot').length > {bots_before}"),
    )
    .await;
    let shown = visitor
        .execute(
            "return { text: [...window.__faqbotShadow.querySelectorAll('.log .m.me')].map(m => m.textContent),
                      imgs: window.__faqbotShadow.querySelectorAll('.log img').length,
                      alerts: window.__alerts }",
            vec![],
        )
        .await;
    let shown = shown.expect("read the widget log");
    assert!(
        shown["text"]
            .as_array()
            .expect("visitor bubbles")
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.contains(XSS))),
        "the markup is shown as typed: {shown}"
    );
    assert_eq!(shown["imgs"], 0, "no <img> element in the widget log");
    assert_eq!(shown["alerts"], 0, "no script ran");

    // --- No advisor online: asking for one offers the contact form.
    shadow(&visitor, ".foot button.human")
        .await
        .click()
        .await
        .expect("click « Parler à un conseiller »");
    wait_js(
        &visitor,
        "the contact form after « unavailable »",
        "const f = R.querySelector('form.ct'); return f && !f.hidden",
    )
    .await;
    // An empty submission is refused with messages next to the fields.
    shadow(&visitor, "form.ct button[type=submit]")
        .await
        .click()
        .await
        .expect("submit the empty form");
    wait_js(
        &visitor,
        "validation messages on the empty form",
        "return R.querySelector('#fb-c-name-e').textContent === 'Indiquez votre nom.'
            && R.querySelector('#fb-c-consent-e').hidden === false",
    )
    .await;
    type_into(&visitor, "#fb-c-name", "Marie Dupont").await;
    type_into(&visitor, "#fb-c-email", "marie.dupont@example.org").await;
    type_into(&visitor, "#fb-c-phone", "+33 6 12 34 56 78").await;
    shadow(&visitor, "#fb-c-consent")
        .await
        .click()
        .await
        .expect("tick consent");
    wait_js(
        &visitor,
        "the error messages to go once the fields are corrected",
        "return [...R.querySelectorAll('form.ct .e')].every(e => e.hidden)
            && R.querySelector('form.ct .sum').textContent === ''",
    )
    .await;
    save_screenshot(&visitor, &shots, "widget-contact-form-1280x800.png").await;
    shadow(&visitor, "form.ct button[type=submit]")
        .await
        .click()
        .await
        .expect("send the contact request");
    wait_js(
        &visitor,
        "the contact request to be saved",
        "return [...R.querySelectorAll('.log .sys')].some(s => s.textContent.includes('demande a été enregistrée'))",
    )
    .await;

    // --- The advisor logs in and finds the contact request.
    let advisor = driver.session(1280, 800).await;
    advisor
        .goto(&app.url("/advisor"))
        .await
        .expect("open the console");
    let token = advisor
        .wait()
        .at_most(WAIT)
        .for_element(fantoccini::Locator::Css("#login:not([hidden]) #token"))
        .await
        .expect("the login form is shown");
    token
        .send_keys(&app.advisor_token)
        .await
        .expect("type the token");
    click(&advisor, "#login-btn").await;
    wait_js_plain(
        &advisor,
        "the console to connect, naming the advisor from the server's hello",
        &format!(
            "return document.getElementById('conn-text').textContent.startsWith('Connecté en tant que {ADVISOR}')"
        ),
    )
    .await;
    click(&advisor, "#tab-leads").await;
    wait_js_plain(
        &advisor,
        "the contact request in « Demandes de contact »",
        "return document.getElementById('leads-body').textContent.includes('marie.dupont@example.org')",
    )
    .await;
    let row = advisor
        .execute(
            "return document.getElementById('leads-body').textContent",
            vec![],
        )
        .await
        .expect("read the leads");
    assert!(
        row.as_str().is_some_and(|r| r.contains("Marie Dupont")),
        "{row}"
    );
    save_screenshot(&advisor, &shots, "console-contact-requests.png").await;
    assert_contrast(&advisor, "the contact requests").await;
    click(&advisor, "#tab-convs").await;

    // --- With the advisor online, the visitor's request is queued, claimed and answered.
    shadow(&visitor, ".foot button.human")
        .await
        .click()
        .await
        .expect("ask for an advisor again");
    wait_js(
        &visitor,
        "the queued status",
        "const s = R.querySelector('.bar.st'); return !s.hidden && s.textContent.startsWith('En attente d’un conseiller')",
    )
    .await;
    let claim = advisor
        .wait()
        .at_most(WAIT)
        .for_element(fantoccini::Locator::Css("#queue button.claim"))
        .await
        .expect("the visitor in the queue");
    let queued = text_of(&advisor, "#queue").await;
    assert!(queued.contains("attend depuis"), "waiting time: {queued}");
    save_screenshot(&advisor, &shots, "console-queue.png").await;
    assert_contrast(&advisor, "the queue").await;
    claim.click().await.expect("claim");
    let transcript = wait_js_plain(
        &advisor,
        "the transcript with the bot part",
        "const t = document.getElementById('transcript').textContent;
         return t.includes('combien coûte le traitement ?') && t.includes('7 000') ? t : null",
    )
    .await;
    let transcript = transcript.as_str().unwrap_or_default();
    assert!(transcript.contains(XSS), "the markup as text: {transcript}");
    let imgs = advisor
        .execute(
            "return document.querySelectorAll('#transcript img').length",
            vec![],
        )
        .await
        .expect("count images");
    assert_eq!(imgs, 0, "no <img> element in the console transcript");
    let reply = "Bonjour, je suis Claire. Le prix dépend de votre bilan : pouvez-vous m’envoyer vos dernières analyses ?";
    advisor
        .find(fantoccini::Locator::Css("#reply"))
        .await
        .expect("reply box")
        .send_keys(reply)
        .await
        .expect("type the reply");
    click(&advisor, "#reply-btn").await;
    wait_js_plain(
        &advisor,
        "the reply in the console transcript",
        &format!(
            "return document.getElementById('transcript').textContent.includes({})",
            json!(reply)
        ),
    )
    .await;
    // The reply box took the focus and scrolled the page: show the conversation from its header.
    advisor
        .execute("window.scrollTo(0, 0)", vec![])
        .await
        .expect("scroll to the top");
    save_screenshot(&advisor, &shots, "console-conversation.png").await;
    assert_contrast(&advisor, "a conversation").await;

    wait_js(
        &visitor,
        "the advisor's reply in the widget",
        &format!(
            "return [...R.querySelectorAll('.log .m.adv')].some(m => m.textContent.includes({}))",
            json!(reply)
        ),
    )
    .await;
    let status = text_in_widget(&visitor, ".bar.st").await;
    assert_eq!(status, format!("En conversation avec {ADVISOR}"));
    save_screenshot(&visitor, &shots, "widget-advisor-reply-1280x800.png").await;

    // --- After a reload the conversation is still there, each message once.
    visitor.refresh().await.expect("reload");
    shadow(&visitor, "button.launch")
        .await
        .click()
        .await
        .expect("reopen the widget");
    let counts = wait_js(
        &visitor,
        "the conversation restored after the reload",
        &format!(
            "const log = [...R.querySelectorAll('.log .m')].map(m => m.textContent);
             const n = s => log.filter(t => t.includes(s)).length;
             const c = {{ question: n('combien coûte le traitement ?'), answer: n('7 000'), xss: n({}), reply: n({}) }};
             return c.reply > 0 ? c : null",
            json!(XSS),
            json!(reply)
        ),
    )
    .await;
    assert_eq!(
        counts,
        json!({"question": 1, "answer": 1, "xss": 1, "reply": 1}),
        "every message once after the reload"
    );
    let status = text_in_widget(&visitor, ".bar.st").await;
    assert_eq!(
        status,
        format!("En conversation avec {ADVISOR}"),
        "the advisor's name after the reload"
    );

    // --- The same conversation on a phone-sized screen.
    set_viewport(&visitor, 360, 740).await;
    let panel = visitor
        .execute(
            "const r = window.__faqbotShadow.querySelector('.panel').getBoundingClientRect();
             const v = document.documentElement;
             return { panel: [r.width, r.height], screen: [v.clientWidth, v.clientHeight] }",
            vec![],
        )
        .await
        .expect("panel size");
    assert_eq!(
        panel["panel"], panel["screen"],
        "the panel fills a 360 px screen"
    );
    assert_eq!(panel["screen"], json!([360, 740]), "phone-sized viewport");
    save_screenshot(&visitor, &shots, "widget-advisor-reply-360x740.png").await;

    // --- At the visitor's request, the advisor erases the conversation: after a confirmation,
    // it is gone from the console and from the widget.
    click(&advisor, "#btn-erase").await;
    let question = advisor
        .get_alert_text()
        .await
        .expect("a confirmation is asked");
    assert!(
        question.starts_with("Effacer définitivement la conversation"),
        "{question}"
    );
    advisor.accept_alert().await.expect("confirm the erasure");
    wait_js_plain(
        &advisor,
        "the conversation gone from « Mes conversations »",
        "return document.getElementById('conv-view').hidden
            && document.getElementById('mine').children.length === 0",
    )
    .await;
    wait_js(
        &visitor,
        "the widget to say the conversation was erased, showing nothing of it",
        "const t = R.querySelector('.log').textContent;
         return t.includes('Cette conversation a été effacée') && !t.includes('combien coûte')
             && R.querySelector('.conn').textContent === 'En ligne'",
    )
    .await;

    visitor.close().await.expect("close the visitor's browser");
    advisor.close().await.expect("close the advisor's browser");
    app.stop().await;
    eprintln!(
        "browser test: {:.1} s, screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

/// Support staff on `/advisor/knowledge`: log in, find an entry, add a phrasing with the
/// check running as they type, save (the file changes, the bot answers it), try a question,
/// and see a broken file refused in the banner while the bot keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_edit_the_faq_in_the_knowledge_page() {
    let app = spawn_app().await;
    // Visitors miss twice with two wordings of one question, and once get "did you mean".
    let mut visitor = visitor_socket(&app).await;
    for (i, q) in [
        "Acceptez-vous la carte vitale ?",
        "Est-ce que la carte vitale est acceptée chez vous ?",
        "cirrhose guerison",
    ]
    .iter()
    .enumerate()
    {
        visitor.ask(q, &format!("m{i}")).await;
    }
    let driver = ChromeDriver::start();
    let shots = screenshot_dir();
    let page = driver.session(1280, 900).await;
    page.goto(&app.url("/advisor/knowledge"))
        .await
        .expect("open the knowledge page");
    page.wait()
        .at_most(WAIT)
        .for_element(fantoccini::Locator::Css("#login:not([hidden]) #token"))
        .await
        .expect("the login form is shown")
        .send_keys(&app.support_token)
        .await
        .expect("type the token");
    click(&page, "#login-btn").await;
    wait_js_plain(
        &page,
        "the list of entries",
        "return document.querySelectorAll('#entries li').length > 30",
    )
    .await;

    // Search narrows the list; open the cost entry.
    page.find(fantoccini::Locator::Css("#search"))
        .await
        .expect("search box")
        .send_keys("tarif")
        .await
        .expect("type in the search box");
    wait_js_plain(
        &page,
        "the search to keep the cost entry among few",
        "const n = document.querySelectorAll('#entries li').length;
         return n > 0 && n < 10 && !!document.querySelector('#entries button[data-id=\"cout\"]')",
    )
    .await;
    click(&page, "#entries button[data-id=\"cout\"]").await;
    wait_js_plain(
        &page,
        "the editor to show the entry",
        "return document.getElementById('f-id').value === 'cout' && document.getElementById('check-state').textContent === 'aucun problème'",
    )
    .await;

    // A phrasing that goes to another entry is flagged while typing.
    let phrasings = page
        .find(fantoccini::Locator::Css("#f-phrasings"))
        .await
        .expect("phrasings field");
    phrasings
        .send_keys("\nqu'est-ce qu'une cirrhose")
        .await
        .expect("type a phrasing");
    let flagged = wait_js_plain(
        &page,
        "the check to flag the phrasing of another entry",
        "const li = document.querySelector('#check-list li'); return li ? li.textContent : null",
    )
    .await;
    assert!(
        flagged.as_str().is_some_and(|t| t.contains("cirrhose")),
        "{flagged}"
    );
    save_screenshot(&page, &shots, "knowledge-check-1280x900.png").await;

    // Replace it with a good one and save.
    page.execute(
        "const f = document.getElementById('f-phrasings');
         f.value = f.value.replace(/\\nqu'est-ce qu'une cirrhose$/, '');
         f.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![],
    )
    .await
    .expect("remove the phrasing");
    phrasings
        .send_keys("\nzorglub quantique")
        .await
        .expect("type a phrasing");
    wait_js_plain(
        &page,
        "the check to pass",
        "return document.getElementById('check-state').textContent === 'aucun problème'",
    )
    .await;
    click(&page, "#save").await;
    let toast = wait_js_plain(
        &page,
        "the save to be confirmed",
        "const t = [...document.querySelectorAll('.toast')].map(t => t.textContent).join(' | ');
         return t.includes('Enregistré') ? t : null",
    )
    .await;
    assert!(
        toast.as_str().is_some_and(|t| t.contains("En service")),
        "{toast}"
    );
    let file = app.knowledge.path().join("faq/fr/cout.md");
    let text = std::fs::read_to_string(&file).expect("read the entry file");
    assert!(text.contains("  \"zorglub quantique\",\n"), "{text}");

    // Try it: the bot answers the new phrasing with the entry.
    click(&page, "#tab-try").await;
    page.find(fantoccini::Locator::Css("#try-q"))
        .await
        .expect("try box")
        .send_keys("zorglub quantique ?\n")
        .await
        .expect("type a question");
    let verdict = wait_js_plain(
        &page,
        "the explanation",
        "const v = document.querySelector('#try-out .verdict'); return v ? v.textContent : null",
    )
    .await;
    assert!(
        verdict
            .as_str()
            .is_some_and(|t| t.contains("Réponse") && t.contains("cout")),
        "{verdict}"
    );
    save_screenshot(&page, &shots, "knowledge-try-1280x900.png").await;

    // What the bot missed: the two wordings are one group, which can become a new entry; the
    // clarify group offers its best candidate.
    click(&page, "#tab-missed").await;
    let group = wait_js_plain(
        &page,
        "the missed questions, grouped",
        "const g = [...document.querySelectorAll('#groups .group')].find(g => g.textContent.includes('carte vitale'));
         return g ? g.textContent : null",
    )
    .await;
    let group = group.as_str().unwrap_or_default();
    assert!(
        group.contains("2×")
            && group.contains("Acceptez-vous")
            && group.contains("acceptée chez vous"),
        "{group}"
    );
    save_screenshot(&page, &shots, "knowledge-missed-1280x900.png").await;
    page.execute(
        "const g = [...document.querySelectorAll('#groups .group')].find(g => g.textContent.includes('carte vitale'));
         [...g.querySelectorAll('button')].find(b => b.textContent === 'Nouvelle entrée').click();",
        vec![],
    )
    .await
    .expect("click « Nouvelle entrée »");
    let prefilled = wait_js_plain(
        &page,
        "a new entry prefilled with the missed wordings",
        "const f = document.getElementById('f-phrasings');
         return !document.getElementById('editor').hidden && document.getElementById('f-id').value === '' ? f.value : null",
    )
    .await;
    assert!(
        prefilled
            .as_str()
            .is_some_and(|t| t.contains("Acceptez-vous la carte vitale ?")
                && t.contains("Est-ce que la carte vitale est acceptée chez vous ?")),
        "{prefilled}"
    );
    // Leaving the unsaved draft asks first; accept.
    page.execute("window.confirm = () => true;", vec![])
        .await
        .expect("stub confirm");
    click(&page, "#tab-missed").await;
    page.execute(
        "const g = [...document.querySelectorAll('#groups .group')].find(g => g.textContent.includes('cirrhose guerison'));
         g.querySelector('button.primary').click();",
        vec![],
    )
    .await
    .expect("click « Ajouter comme formulation »");
    let added = wait_js_plain(
        &page,
        "the suggested entry open with the missed wording added",
        "const f = document.getElementById('f-phrasings');
         return document.getElementById('f-id').value !== '' && f.value.split('\\n').includes('cirrhose guerison') ? document.getElementById('f-id').value : null",
    )
    .await;
    assert!(added.as_str().is_some_and(|id| !id.is_empty()), "{added}");

    // A broken file: refused, shown in the banner, the bot keeps answering.
    std::fs::write(&file, text.replacen("question = \"", "question = ", 1))
        .expect("break the file");
    tokio::time::sleep(Duration::from_millis(400)).await;
    click(&page, "#reload").await;
    let banner = wait_js_plain(
        &page,
        "the refusal banner",
        "const b = document.getElementById('refused'); return b.hidden ? null : b.textContent",
    )
    .await;
    assert!(
        banner.as_str().is_some_and(|t| t.contains("cout.md:4")),
        "{banner}"
    );
    save_screenshot(&page, &shots, "knowledge-refused-1280x900.png").await;
    let reply = visitor.ask("zorglub quantique", "after-break").await;
    assert_eq!(reply["faq_id"], "cout", "{reply}");

    page.close().await.expect("close the browser");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The server

/// A visitor's WebSocket, welcomed.
async fn visitor_socket(app: &TestApp) -> crate::helpers::Client {
    let request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/ws", app.addr),
    )
    .expect("request");
    let mut visitor = crate::helpers::Client::connect(request).await;
    visitor.recv_type("welcome").await;
    visitor
}

struct TestApp {
    addr: std::net::SocketAddr,
    advisor_token: String,
    /// An advisor with the `support` role, [`SUPPORT`].
    support_token: String,
    /// The copy of `faq/` and `intents/` the server watches.
    knowledge: tempfile::TempDir,
    /// Completing it starts the graceful shutdown; `server` then finishes.
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Removed on drop, after the server stopped.
    _data: tempfile::TempDir,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }
}

/// The real service on port 0 with the project's FAQ, intents and web pages, a temporary data
/// folder and one advisor, [`ADVISOR`].
async fn spawn_app() -> TestApp {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().expect("temp data dir");
    let mut settings = Settings::default();
    settings.server.web_dir = root.join("web");
    settings.storage.data_dir = data.path().to_owned();
    settings.server.drain_secs = 2;
    crate::helpers::unlimited(&mut settings);

    // Its own copy of the knowledge, watched, so the knowledge page can edit it.
    let knowledge = tempfile::tempdir().expect("temp knowledge dir");
    crate::helpers::copy_dir(&root.join("faq"), &knowledge.path().join("faq"));
    crate::helpers::copy_dir(&root.join("intents"), &knowledge.path().join("intents"));
    settings.knowledge.faq = knowledge.path().join("faq");
    settings.knowledge.intents = knowledge.path().join("intents");
    let (live, errors) = Live::load(&settings.knowledge.faq, &settings.knowledge.intents);
    assert!(
        errors.is_empty(),
        "the project's knowledge loads: {errors:?}"
    );
    let live = Arc::new(live);
    live.watch().expect("watch the knowledge");
    let mut store = SqliteStore::open(data.path()).expect("open the store");
    let advisor_token = new_token();
    store
        .add_advisor(ADVISOR, "advisor", &hash_token(&advisor_token), now_ms())
        .expect("add the advisor");
    let support_token = new_token();
    store
        .add_advisor(SUPPORT, "support", &hash_token(&support_token), now_ms())
        .expect("add the support advisor");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let state = AppState::new(settings, live, store).expect("start the store");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(faqbot::server::run(listener, state, async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        advisor_token,
        support_token,
        stop,
        server,
        _data: data,
        knowledge,
    }
}

async fn check_security_headers(app: &TestApp) {
    let http = reqwest::Client::new();
    for path in ["/", "/advisor", "/widget.js"] {
        let res = http.get(app.url(path)).send().await.expect("GET a page");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let h = res.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path}: no {name} header"))
                .to_owned()
        };
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert!(!get("referrer-policy").is_empty(), "{path}");
        if path != "/widget.js" {
            let csp = get("content-security-policy");
            let scripts = csp
                .split(';')
                .map(str::trim)
                .find(|d| d.starts_with("script-src"))
                .unwrap_or_else(|| panic!("{path}: no script-src in {csp}"));
            assert!(
                !scripts.contains("unsafe-inline"),
                "{path}: inline scripts allowed: {csp}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The browser

/// A chromedriver child process on a free port, killed on drop, and the profiles it used.
struct ChromeDriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    /// One fresh `--user-data-dir` per session, removed on drop.
    profiles: std::sync::Mutex<Vec<tempfile::TempDir>>,
}

const INSTALL: &str = "the browser tests need Chromium and its driver: run `apt-get install -y chromium chromium-driver` (or `scripts/test`, which installs them)";

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let driver = find_program(&["chromedriver"])
            .unwrap_or_else(|| panic!("`chromedriver` is not on PATH: {INSTALL}"));
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .unwrap_or_else(|| panic!("no `chromium` on PATH: {INSTALL}"));
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let logs = std::env::var_os("TEST_LOG").is_some();
        let quiet = || {
            if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        // Its own process group, so that dropping it also ends the browsers it started, even
        // when a failed assertion skipped closing the sessions.
        let mut child = Command::new(&driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}. {INSTALL}", driver.display()));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); run it by hand to see why. {INSTALL}"
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver {
            child,
            port,
            chromium,
            profiles: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A new headless browser with an empty profile and the given viewport.
    async fn session(&self, width: u32, height: u32) -> Client {
        let profile = tempfile::tempdir().expect("temp profile");
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-extensions".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            // Phones draw scrollbars over the page: so does the 360 px test.
            "--hide-scrollbars".to_owned(),
            "--lang=fr-FR".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        self.profiles.lock().expect("profiles").push(profile);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": self.chromium, "args": args },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}. {INSTALL}"));
        set_viewport(&client, width, height).await;
        client
    }

    /// Installs [`HOOK`] in every document this session loads from now on.
    async fn hook_shadow_roots(&self, client: &Client) {
        let session = client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let res = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/session/{session}/goog/cdp/execute",
                self.port
            ))
            .json(&json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": HOOK },
            }))
            .send()
            .await
            .expect("chromedriver answers");
        assert!(
            res.status().is_success(),
            "DevTools command refused: {}",
            res.text().await.unwrap_or_default()
        );
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid; `kill -- -PGID` reaches every Chromium in it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Resizes the window so that the page's viewport is exactly `width`×`height`.
async fn set_viewport(c: &Client, width: u32, height: u32) {
    // The window's frame takes some of its size, and a loaded machine applies a resize late:
    // set, wait until the page's size settles, correct by the difference, until it fits.
    let (mut window_w, mut window_h) = (i64::from(width), i64::from(height));
    for _ in 0..5 {
        c.set_window_size(window_w as u32, window_h as u32)
            .await
            .expect("set window size");
        let (w, h) = settled_inner_size(c).await;
        if (w, h) == (i64::from(width), i64::from(height)) {
            return;
        }
        window_w += i64::from(width) - w;
        window_h += i64::from(height) - h;
    }
}

/// The page's inner size once two readings 50 ms apart agree (at most 2 s).
async fn settled_inner_size(c: &Client) -> (i64, i64) {
    let read = || async {
        let inner = c
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .expect("viewport size");
        (
            inner[0].as_i64().unwrap_or_default(),
            inner[1].as_i64().unwrap_or_default(),
        )
    };
    let mut last = read().await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("test-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

async fn save_screenshot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(name), png).expect("write the screenshot");
}

/// Polls `script` (run with `R` bound to the widget's shadow root) until it returns something
/// other than null, false, 0 or "", and returns that.
async fn wait_js(c: &Client, what: &str, script: &str) -> Value {
    let script = format!("const R = window.__faqbotShadow; if (!R) return null; {script}");
    wait_js_plain(c, what, &script).await
}

/// Polls `script` until it returns something other than null, false, 0 or "", and returns that.
async fn wait_js_plain(c: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = c.execute(script, vec![]).await;
        match &last {
            Ok(v) if truthy(v) => return v.clone(),
            _ if Instant::now() > deadline => {
                panic!("waited {WAIT:?} for {what}; the page gave {last:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// The element matching `css` inside the widget, once it exists.
async fn shadow(c: &Client, css: &str) -> Element {
    let found = wait_js(
        c,
        &format!("`{css}` in the widget"),
        &format!("return R.querySelector({})", json!(css)),
    )
    .await;
    let id = found
        .get("element-6066-11e4-a52e-4f735466cecf")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("not an element: {found}"));
    Element::from_element_id(c.clone(), ElementRef::from(id.to_owned()))
}

/// Types `text` in the widget's message box and presses Enter.
async fn say(c: &Client, text: &str) {
    type_into(c, "#fb-input", text).await;
    keys(c, &char::from(Key::Enter).to_string()).await;
}

/// Focuses the widget's field `css` and types `text` on the keyboard. (WebDriver's "send keys
/// to element" refuses elements inside a closed shadow root as "not interactable"; real key
/// presses to the focused field are what a visitor does anyway.)
async fn type_into(c: &Client, css: &str, text: &str) {
    wait_js(
        c,
        &format!("focus on `{css}` in the widget"),
        &format!(
            "const e = R.querySelector({}); if (!e) return false; e.focus(); return R.activeElement === e",
            json!(css)
        ),
    )
    .await;
    keys(c, text).await;
}

/// Presses and releases each character of `text` on the keyboard, in order.
async fn keys(c: &Client, text: &str) {
    let mut typing = KeyActions::new("keyboard".to_owned());
    for ch in text.chars() {
        typing = typing
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
    }
    c.perform_actions(typing)
        .await
        .unwrap_or_else(|e| panic!("type {text:?}: {e}"));
}

/// Asserts that axe-core finds no text under the WCAG 2 AA contrast on the page, showing `what`.
async fn assert_contrast(c: &Client, what: &str) {
    let contrast = contrast_check(c).await;
    assert_eq!(
        contrast["violations"],
        json!([]),
        "text under the WCAG 2 AA contrast in the console showing {what}: {contrast:#}"
    );
    assert!(
        contrast["passes"].as_u64().unwrap_or(0) > 5,
        "axe-core checked the console's text ({what}): {contrast}"
    );
}

/// Runs axe-core's `color-contrast` rule (WCAG 2 AA: 4.5:1, 3:1 for large text) on the page as
/// it is: `{violations: [{target, html, summary}], passes, incomplete}` (node counts for the
/// last two). axe-core is vendored in `tests/vendor/axe-core` (MPL-2.0), so this runs offline.
async fn contrast_check(c: &Client) -> Value {
    let axe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vendor/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", axe.display()));
    // WebDriver scripts run outside the page's CSP, which allows no inline script.
    c.execute(&axe, vec![]).await.expect("inject axe-core");
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         axe.run(document, { runOnly: { type: 'rule', values: ['color-contrast'] } })
           .then(r => {
             const nodes = list => list.reduce((n, rule) => n + rule.nodes.length, 0);
             done({
               violations: r.violations.flatMap(v => v.nodes.map(n => ({
                 target: n.target.join(' '), html: n.html, summary: n.failureSummary }))),
               passes: nodes(r.passes),
               incomplete: nodes(r.incomplete),
             });
           })
           .catch(e => done({ error: String(e) }));",
        vec![],
    )
    .await
    .expect("run axe-core")
}

async fn count(c: &Client, css: &str) -> u64 {
    c.execute(
        &format!(
            "return window.__faqbotShadow.querySelectorAll({}).length",
            json!(css)
        ),
        vec![],
    )
    .await
    .expect("count")
    .as_u64()
    .expect("a number")
}

async fn text_in_widget(c: &Client, css: &str) -> String {
    c.execute(
        &format!(
            "return window.__faqbotShadow.querySelector({}).textContent",
            json!(css)
        ),
        vec![],
    )
    .await
    .expect("read the widget")
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("element text")
}
