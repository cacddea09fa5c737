//! The static files (`/widget.js`, the pages, their scripts and styles) and the headers every
//! response carries, through a real server on port 0:
//! - gzip and brotli responses decode to the file's bytes; no `Accept-Encoding`, no compression;
//! - each file has an `ETag`; sending it back gets `304` with an empty body, and a file edited
//!   on disk gets a new tag and its new bytes;
//! - every response, JSON and errors included, carries `X-Content-Type-Options: nosniff`.

use std::io::Read;
use std::path::Path;

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use crate::helpers::{copy_dir, spawn_app_with};

/// A web folder of its own, so the test can edit a file under the running server.
async fn app_with_own_web_dir() -> (crate::helpers::TestApp, tempfile::TempDir) {
    let web = tempfile::tempdir().expect("temp dir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
        web.path(),
    );
    let dir = web.path().to_owned();
    let app = spawn_app_with(tempfile::tempdir().expect("temp dir"), move |s| {
        s.server.web_dir = dir;
    })
    .await;
    (app, web)
}

async fn get(url: &str, headers: &[(reqwest::header::HeaderName, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.expect("GET")
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    res.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{}: no {name} header", res.url()))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

#[tokio::test]
async fn static_files_are_compressed_and_revalidated_with_their_etag() {
    let (app, web) = app_with_own_web_dir().await;
    for (path, file) in [
        ("/widget.js", "widget.js"),
        ("/", "index.html"),
        ("/advisor", "advisor.html"),
        ("/advisor.js", "advisor.js"),
        ("/advisor.css", "advisor.css"),
        ("/advisor/knowledge", "knowledge.html"),
    ] {
        let original = std::fs::read(web.path().join(file)).expect("read the file");
        let url = app.url(path);

        // Without Accept-Encoding: the bytes as they are on disk.
        let plain = get(&url, &[]).await;
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "{path}");
        assert_eq!(header(&plain, CACHE_CONTROL), "no-cache", "{path}");
        let etag = header(&plain, ETAG).to_owned();
        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        assert_eq!(plain.bytes().await.expect("body"), original, "{path}");

        let gzip = get(&url, &[(ACCEPT_ENCODING, "gzip")]).await;
        assert_eq!(header(&gzip, CONTENT_ENCODING), "gzip", "{path}");
        assert_eq!(
            header(&gzip, ETAG),
            etag,
            "{path}: one tag for every encoding"
        );
        let gzip = gzip.bytes().await.expect("body");
        assert_eq!(gunzip(&gzip), original, "{path}");

        let br = get(&url, &[(ACCEPT_ENCODING, "gzip, deflate, br")]).await;
        assert_eq!(header(&br, CONTENT_ENCODING), "br", "{path}");
        let br = br.bytes().await.expect("body");
        assert_eq!(unbrotli(&br), original, "{path}");

        // The browser's second visit: its tag is current, so nothing is sent again.
        let again = get(&url, &[(IF_NONE_MATCH, &etag), (ACCEPT_ENCODING, "br")]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&again, ETAG), etag, "{path}");
        assert_eq!(header(&again, CACHE_CONTROL), "no-cache", "{path}");
        assert!(again.headers().get(CONTENT_ENCODING).is_none(), "{path}");
        assert!(again.bytes().await.expect("body").is_empty(), "{path}");

        if path == "/widget.js" {
            eprintln!(
                "widget.js: {} bytes plain, {} gzip, {} br",
                original.len(),
                gzip.len(),
                br.len()
            );
        }
    }

    // The web team edits the widget: the old tag no longer matches, the new bytes come.
    let path = web.path().join("widget.js");
    let mut edited = std::fs::read(&path).expect("read");
    edited.extend_from_slice(b"\n// edited\n");
    std::fs::write(&path, &edited).expect("edit widget.js");
    let url = app.url("/widget.js");
    let old = header(&get(&url, &[]).await, ETAG).to_owned();
    std::fs::write(&path, [edited.as_slice(), b"// twice\n"].concat()).expect("edit again");
    let res = get(&url, &[(IF_NONE_MATCH, &old)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(header(&res, ETAG), old);
    assert!(res
        .bytes()
        .await
        .expect("body")
        .ends_with(b"// edited\n// twice\n"));

    // A missing file is a plain 404, without a tag.
    let missing = get(&app.url("/nope.js"), &[(ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().get(ETAG).is_none());
    app.stop().await;
}

#[tokio::test]
async fn every_response_says_nosniff_json_and_errors_included() {
    let app = crate::helpers::spawn_app().await;
    let token = app.add_advisor("Alice");
    let http = reqwest::Client::new();
    let requests = [
        ("GET /healthz", http.get(app.url("/healthz"))),
        ("GET /readyz", http.get(app.url("/readyz"))),
        (
            "GET /api/leads",
            http.get(app.url("/api/leads")).bearer_auth(&token),
        ),
        (
            "GET /api/leads?format=csv",
            http.get(app.url("/api/leads?format=csv"))
                .bearer_auth(&token),
        ),
        (
            "GET /api/leads without login (401)",
            http.get(app.url("/api/leads")),
        ),
        (
            "GET /api/me",
            http.get(app.url("/api/me")).bearer_auth(&token),
        ),
        (
            "GET /api/knowledge/missed as an advisor (403)",
            http.get(app.url("/api/knowledge/missed"))
                .bearer_auth(&token),
        ),
        (
            "POST /api/login with a bad token (401)",
            http.post(app.url("/api/login"))
                .json(&serde_json::json!({"token": "nope"})),
        ),
        (
            "POST /api/login with broken JSON (400)",
            http.post(app.url("/api/login"))
                .header("content-type", "application/json")
                .body("{"),
        ),
        (
            "POST /api/login too large (413)",
            http.post(app.url("/api/login"))
                .header("content-type", "application/json")
                .body(vec![b' '; 64 * 1024]),
        ),
        ("POST /api/logout", http.post(app.url("/api/logout"))),
        ("GET /ws without an upgrade", http.get(app.url("/ws"))),
        ("GET /widget.js", http.get(app.url("/widget.js"))),
        ("GET /nope (404)", http.get(app.url("/nope"))),
    ];
    let mut statuses = Vec::new();
    for (what, request) in requests {
        let res = request.send().await.expect(what);
        statuses.push(res.status().as_u16());
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{what} ({})",
            res.status()
        );
    }
    // The list covers answers and refusals of every kind.
    for status in [200, 204, 400, 401, 403, 404, 413] {
        assert!(statuses.contains(&status), "no {status} in {statuses:?}");
    }
    app.stop().await;
}
