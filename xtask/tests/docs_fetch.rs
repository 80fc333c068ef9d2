//! `docs fetch` against a docs site served on loopback by the test itself:
//! the reference pages and the published OpenAPI document their yaml fence
//! headers name (the fixtures' pages name `fixture-openapi.json`).

mod sandbox;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use sandbox::{fixtures, xtask, Sandbox};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A minimal HTTP/1.1 server on 127.0.0.1 serving fixed pages; other paths get 404.
/// It serves at most `MAX_REQUESTS` connections, then its thread ends.
struct DocsSite {
    base: String,
    pages: Arc<Mutex<HashMap<String, String>>>,
}

const MAX_REQUESTS: usize = 100;

impl DocsSite {
    fn start(pages: &[(&str, String)]) -> DocsSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let pages = Arc::new(Mutex::new(
            pages
                .iter()
                .map(|(p, t)| (p.to_string(), t.clone()))
                .collect(),
        ));
        let served = Arc::clone(&pages);
        thread::spawn(move || {
            for stream in listener.incoming().take(MAX_REQUESTS) {
                let Ok(stream) = stream else { continue };
                answer(stream, &served);
            }
        });
        DocsSite { base, pages }
    }

    fn set(&self, path: &str, text: String) {
        self.pages
            .lock()
            .expect("lock")
            .insert(path.to_string(), text);
    }
}

fn answer(mut stream: TcpStream, pages: &Mutex<HashMap<String, String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let page = pages.lock().expect("lock").get(&path).cloned();
    let (status, body) = match page {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", format!("no page at {path}")),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/markdown; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn fixture_page(name: &str) -> String {
    fs::read_to_string(fixtures().join("snapshots/openapi-3.1").join(name))
        .expect("read fixture page")
}

/// An index like the live llms.txt: absolute links on the real host, a classic
/// copy and another section that must be left out.
const INDEX: &str = "# Gadget docs\n\n## API reference\n\
- [List events](https://docs.example.test/api-reference/audit-logs/list-events.md): events\n\
- [Update a gadget](https://docs.example.test/api-reference/bi/update-gadget.md): update\n\
- [Update a gadget, classic](https://docs.example.test/classic/api-reference/bi/update-gadget.md)\n\
- [Data diffs](https://docs.example.test/api-reference/data-diffs/list.md)\n";

/// The published document the fixture pages name, as the site serves it.
const DOCUMENT: &str = "/fixture-openapi.json";

fn fixture_document() -> String {
    fs::read_to_string(fixtures().join("snapshots/document-json/gadget-openapi.json"))
        .expect("read fixture document")
}

fn site() -> DocsSite {
    DocsSite::start(&[
        (DOCUMENT, fixture_document()),
        ("/llms.txt", INDEX.to_string()),
        (
            "/api-reference/audit-logs/list-events.md",
            fixture_page("list-events/1.md"),
        ),
        (
            "/api-reference/bi/update-gadget.md",
            fixture_page("update-gadget/1.md"),
        ),
    ])
}

fn fetch(base: &str, out: &std::path::Path) -> sandbox::Run {
    xtask(&[
        "docs",
        "fetch",
        "--base-url",
        base,
        "--out",
        out.to_str().expect("utf-8"),
    ])
}

#[test]
fn fetch_writes_the_reference_pages_and_a_manifest_that_check_reads() {
    let site = site();
    let sandbox = Sandbox::empty();
    let out = sandbox.snapshots();
    let run = fetch(&site.base, &out);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("fetched 2 pages listed in")
            && run
                .stdout
                .contains("and 1 published OpenAPI documents they name"),
        "{}",
        run.stdout
    );

    let page = fs::read_to_string(out.join("pages/update-gadget/1.md")).expect("page written");
    assert_eq!(
        page,
        fixture_page("update-gadget/1.md"),
        "written byte for byte"
    );
    assert!(out.join("pages/list-events/1.md").is_file());
    assert!(
        !out.join("pages/list/1.md").exists(),
        "other sections are left out"
    );

    let manifest: Value = serde_json::from_str(
        &fs::read_to_string(out.join("pages/MANIFEST.json")).expect("manifest"),
    )
    .expect("json");
    let entries = manifest.as_array().expect("list");
    assert_eq!(entries.len(), 3);
    let entry = entries
        .iter()
        .find(|e| e["slug"] == "update-gadget")
        .expect("entry");
    assert_eq!(
        entry["page_url"],
        format!("{}/api-reference/bi/update-gadget.md", site.base)
    );
    assert_eq!(
        entry["sha256"],
        format!("{:x}", Sha256::digest(page.as_bytes()))
    );
    assert_eq!(entry["format"], "openapi-3.1");
    assert_eq!(entry["version"], 1);
    let fetched_at = entry["fetched_at"].as_str().expect("fetched_at");
    assert!(
        fetched_at.len() == 20 && fetched_at.ends_with('Z') && fetched_at.as_bytes()[10] == b'T',
        "{fetched_at}"
    );

    let document =
        fs::read_to_string(out.join("pages/fixture-openapi/1.json")).expect("document written");
    assert_eq!(document, fixture_document(), "written byte for byte");
    let entry = entries
        .iter()
        .find(|e| e["slug"] == "fixture-openapi")
        .expect("document entry");
    assert_eq!(entry["document_url"], format!("{}{DOCUMENT}", site.base));
    assert_eq!(
        entry["sha256"],
        format!("{:x}", Sha256::digest(document.as_bytes()))
    );
    assert_eq!(entry["format"], "openapi-document");
    assert_eq!(entry["version"], 1);
    assert_eq!(entry["file"], "pages/fixture-openapi/1.json");
    assert_eq!(entry["fetched_at"], fetched_at);

    let check = sandbox.check(&[]);
    assert_eq!(check.code, 0, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("not a snapshot: pages/MANIFEST.json (manifest)"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("read 2 pages, 1 OpenAPI documents, 0 rendered pages"),
        "{}",
        check.stdout
    );
}

/// Every file under `dir` with its bytes and modification time.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("mtime");
            found.push((path.clone(), fs::read(&path).expect("read"), modified));
        }
    }
    found.sort();
    found
}

#[test]
fn fetching_again_adds_a_version_only_when_a_page_changed() {
    let site = site();
    let sandbox = Sandbox::empty();
    let out = sandbox.snapshots();
    assert_eq!(fetch(&site.base, &out).code, 0);
    let before = files(&out);
    let again = fetch(&site.base, &out);
    assert!(
        again.stdout.contains("0 new versions, 3 unchanged"),
        "{}",
        again.stdout
    );
    assert_eq!(
        files(&out),
        before,
        "unchanged bytes write nothing, not even the manifest"
    );

    let grown = fixture_page("update-gadget/1.md").replace(
        "        zone:\n",
        "        tenant:\n          type: string\n        zone:\n",
    );
    site.set("/api-reference/bi/update-gadget.md", grown);
    let third = fetch(&site.base, &out);
    assert_eq!(third.code, 0);
    assert!(
        third.stdout.contains("1 new versions, 2 unchanged"),
        "{}",
        third.stdout
    );
    assert!(out.join("pages/update-gadget/2.md").is_file());
    assert!(!out.join("pages/fixture-openapi/2.json").exists());

    let check = sandbox.check(&["--all-versions"]);
    assert_eq!(
        check.code, 1,
        "the newest page has a field the spec lacks:\n{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("body.tenant: in pages/update-gadget/2.md (string), missing in spec"),
        "{}",
        check.stdout
    );
    // The published document, fetched unchanged, still says otherwise.
    assert!(
        check.stdout.contains(
            "body.tenant: pages/update-gadget/2.md has string; pages/fixture-openapi/1.json lacks it (as the spec)"
        ),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains(
            "update-gadget/1 (openapi-3.1) -> update-gadget/2 (openapi-3.1): body fields 6 -> 7"
        ),
        "{}",
        check.stdout
    );
}

#[test]
fn an_unreachable_docs_site_fails_cleanly_with_exit_2() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let sandbox = Sandbox::empty();
    let run = fetch(&format!("http://127.0.0.1:{port}"), &sandbox.snapshots());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("cannot reach http://127.0.0.1:{port}/llms.txt")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("docs fetch needs the docs site"),
        "{}",
        run.stderr
    );
    assert!(
        !sandbox.snapshots().join("pages").exists(),
        "nothing written"
    );
}

#[test]
fn a_missing_page_fails_with_exit_2_and_writes_nothing() {
    let site = site();
    site.pages
        .lock()
        .expect("lock")
        .remove("/api-reference/bi/update-gadget.md");
    let sandbox = Sandbox::empty();
    let run = fetch(&site.base, &sandbox.snapshots());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "GET {}/api-reference/bi/update-gadget.md: HTTP 404",
            site.base
        )),
        "{}",
        run.stderr
    );
    assert!(
        !sandbox.snapshots().join("pages").exists(),
        "nothing written"
    );
}

#[test]
fn a_page_without_an_openapi_block_is_refused() {
    let site = site();
    site.set(
        "/api-reference/bi/update-gadget.md",
        "# Update a gadget\n\nSee the dashboard.\n".to_string(),
    );
    let sandbox = Sandbox::empty();
    let run = fetch(&site.base, &sandbox.snapshots());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("update-gadget.md: no ```yaml block"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_changed_document_gets_a_new_version_and_only_the_newest_is_a_witness() {
    let site = site();
    let sandbox = Sandbox::empty();
    let out = sandbox.snapshots();
    assert_eq!(fetch(&site.base, &out).code, 0);
    let changed = fixture_document().replace("\"update_gadget\"", "\"update_gadget_put\"");
    site.set(DOCUMENT, changed.clone());
    let run = fetch(&site.base, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("1 new versions, 2 unchanged"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(out.join("pages/fixture-openapi/2.json")).expect("version 2"),
        changed
    );

    let check = sandbox.check(&[]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    let line =
        "operation_id: pages/fixture-openapi/2.json has update_gadget_put, spec has update_gadget";
    assert!(check.stdout.contains(line), "{}", check.stdout);
    assert!(
        !check.stdout.contains("pages/fixture-openapi/1.json"),
        "an older version is history, not a witness:\n{}",
        check.stdout
    );
}

#[test]
fn a_document_named_with_a_leading_slash_is_fetched_once_from_the_base_url() {
    let site = site();
    let page = fixture_page("update-gadget/1.md").replace(
        "````yaml fixture-openapi.json put",
        "````yaml /fixture-openapi.json put",
    );
    site.set("/api-reference/bi/update-gadget.md", page);
    let sandbox = Sandbox::empty();
    let out = sandbox.snapshots();
    let run = fetch(&site.base, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("and 1 published OpenAPI documents they name"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(out.join("pages/fixture-openapi/1.json")).expect("document"),
        fixture_document()
    );
}

#[test]
fn a_missing_published_document_fails_with_exit_2_and_writes_nothing() {
    let site = site();
    site.pages.lock().expect("lock").remove(DOCUMENT);
    let sandbox = Sandbox::empty();
    let run = fetch(&site.base, &sandbox.snapshots());
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("GET {}{DOCUMENT}: HTTP 404", site.base)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "names the published OpenAPI document `fixture-openapi.json` in its yaml fence header"
        ) && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert!(
        !sandbox.snapshots().join("pages").exists(),
        "nothing written"
    );
}

#[test]
fn a_published_document_that_is_not_openapi_is_refused() {
    let site = site();
    site.set(DOCUMENT, "{\"swagger\": \"2.0\"}".to_string());
    let sandbox = Sandbox::empty();
    let run = fetch(&site.base, &sandbox.snapshots());
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("fixture-openapi.json: not an OpenAPI 3.x document"),
        "{}",
        run.stderr
    );
    assert!(
        !sandbox.snapshots().join("pages").exists(),
        "nothing written"
    );
}
