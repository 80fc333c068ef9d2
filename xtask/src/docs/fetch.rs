//! `docs fetch`: downloads the audit-log and BI API reference pages.
//!
//! 1. `GET <base>/llms.txt`, the docs index, and pick every link whose path is
//!    under `/api-reference/audit-logs/` or `/api-reference/bi/` (the
//!    `/classic/` tree and other sections are left out). Links are followed on
//!    `--base-url` whatever host they name, so a local server can stand in.
//! 2. `GET` each page's `.md` export and check that it holds an OpenAPI
//!    description in one of the known page formats.
//! 3. `GET` every published OpenAPI document the pages name in their yaml
//!    fence header (```` ```yaml openapi-public.json put /path ````, the name
//!    written with or without a leading slash), resolved against `--base-url`,
//!    and check that it is an OpenAPI 3.x document. Nothing is written unless
//!    every page and document downloads and reads.
//! 4. Write `<out>/pages/<slug>/<n>.md` (a document: `<out>/pages/<name>/<n>.json`)
//!    byte for byte, where `n` is one more than the slug's newest version,
//!    unless that version has the same sha256; and record each new file in
//!    `<out>/pages/MANIFEST.json` (slug, version, file, format, bytes, sha256,
//!    page_url or document_url, fetched_at). Unchanged bytes write nothing.
//!    The layout is the one `docs check --snapshots <out>` reads.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{openapi, snapshots};

/// Where to fetch from and to.
#[derive(Clone, Debug)]
pub struct Options {
    /// Docs site root, without a trailing slash.
    pub base_url: String,
    /// Output directory.
    pub out: PathBuf,
}

/// URL path prefixes of the reference pages this SDK covers.
const SECTIONS: [&str; 2] = ["/api-reference/audit-logs/", "/api-reference/bi/"];

/// Fetches and writes the pages; returns a summary for the terminal.
pub fn run(options: &Options) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .user_agent("datafold-sdk-xtask (docs fetch)")
        .build()
        .into();
    let index_url = format!("{}/llms.txt", options.base_url);
    let index = get(&agent, &index_url).map_err(|e| {
        format!("{e}\ndocs fetch needs the docs site; check the network, or pass --base-url to use another copy")
    })?;
    let paths = reference_pages(&index);
    if paths.is_empty() {
        return Err(format!(
            "{index_url} lists no pages under {}",
            SECTIONS.join(" or ")
        ));
    }

    let mut downloads = Vec::new();
    let mut documents: Vec<(String, String)> = Vec::new();
    for path in &paths {
        let url = format!("{}{path}", options.base_url);
        let text = get(&agent, &url)?;
        let (format, _) = snapshots::page(&text).map_err(|e| format!("{url}: {e}"))?;
        for name in snapshots::published_documents(&text) {
            let name = name.trim_start_matches('/').to_string();
            if !documents.iter().any(|(known, _)| *known == name) {
                documents.push((name, url.clone()));
            }
        }
        downloads.push(Download {
            slug: stem(path),
            extension: "md",
            url_key: "page_url",
            url,
            format: format.name(),
            text,
        });
    }
    for (name, page_url) in &documents {
        let url = format!("{}/{name}", options.base_url);
        let text = get(&agent, &url).map_err(|e| {
            format!(
                "{e}\n{page_url} names the published OpenAPI document `{name}` in its yaml fence header, \
                 and it must download too; nothing was written (check --base-url, or the name on the page)"
            )
        })?;
        let extension = if name.to_ascii_lowercase().ends_with(".json") {
            "json"
        } else {
            "yaml"
        };
        published_document(&text, extension)
            .map_err(|e| format!("{url}: {e}; nothing was written"))?;
        downloads.push(Download {
            slug: stem(name),
            extension,
            url_key: "document_url",
            url,
            format: "openapi-document",
            text,
        });
    }

    let pages_dir = options.out.join("pages");
    let manifest_path = pages_dir.join("MANIFEST.json");
    let mut manifest = read_manifest(&manifest_path)?;
    let fetched_at = rfc3339(SystemTime::now());
    let (mut written, mut unchanged) = (Vec::new(), 0);
    for Download {
        slug,
        extension,
        url_key,
        url,
        format,
        text,
    } in downloads
    {
        let sha256 = hex(&Sha256::digest(text.as_bytes()));
        let versions = manifest
            .iter()
            .filter(|e| e.get("slug").and_then(Value::as_str) == Some(&slug));
        let newest = versions.max_by_key(|e| e.get("version").and_then(Value::as_u64).unwrap_or(0));
        if newest.and_then(|e| e.get("sha256")).and_then(Value::as_str) == Some(&sha256) {
            unchanged += 1;
            continue;
        }
        let version = newest
            .and_then(|e| e.get("version"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        let file = format!("pages/{slug}/{version}.{extension}");
        write(&options.out.join(&file), text.as_bytes())?;
        manifest.push(json!({
            "slug": slug,
            "version": version,
            "file": file,
            "format": format,
            "bytes": text.len(),
            "sha256": sha256,
            url_key: url,
            "fetched_at": fetched_at,
        }));
        written.push(file);
    }
    if !written.is_empty() {
        let manifest_text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| format!("cannot encode the manifest: {e}"))?;
        write(&manifest_path, format!("{manifest_text}\n").as_bytes())?;
    }

    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "fetched {} pages listed in {index_url} and {} published OpenAPI documents they name",
        paths.len(),
        documents.len()
    );
    for file in &written {
        let _ = writeln!(summary, "  new: {}", options.out.join(file).display());
    }
    let _ = writeln!(
        summary,
        "{} new versions, {unchanged} unchanged; manifest: {}",
        written.len(),
        manifest_path.display()
    );
    let _ = writeln!(
        summary,
        "next: cargo xtask docs check --snapshots {} --all-versions",
        options.out.display()
    );
    Ok(summary)
}

/// One downloaded page or document, before anything is written.
struct Download {
    slug: String,
    extension: &'static str,
    /// `page_url` or `document_url`, the manifest's key for `url`.
    url_key: &'static str,
    url: String,
    /// The manifest's `format`.
    format: &'static str,
    text: String,
}

/// The last path segment without its extension: the slug of a page or document.
fn stem(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.')
        .map_or(last, |(stem, _)| stem)
        .to_string()
}

/// Checks that a downloaded document is an OpenAPI 3.x document the check can read.
fn published_document(text: &str, extension: &str) -> Result<(), String> {
    let doc = if extension == "json" {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        snapshots::parse_yaml(text).map_err(|e| format!("not valid YAML: {e}"))?
    };
    if !openapi::is_openapi(&doc) {
        return Err("not an OpenAPI 3.x document (no `openapi: 3.x`)".to_string());
    }
    openapi::operations(&doc).map(|_| ())
}

fn get(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(status) => format!("GET {url}: HTTP {status}"),
        other => format!("cannot reach {url}: {other}"),
    })?;
    response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("GET {url}: cannot read the body: {e}"))
}

/// URL paths (ending in `.md`) of the reference pages linked from llms.txt, in order.
fn reference_pages(index: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let links = index
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next());
    let bare = index
        .split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"));
    for link in links.chain(bare) {
        let without_host = match link.find("://") {
            Some(at) => link[at + 3..]
                .find('/')
                .map_or("/", |i| &link[at + 3 + i..]),
            None => link,
        };
        let path = without_host
            .split(['?', '#', ')'])
            .next()
            .unwrap_or_default();
        if !SECTIONS.iter().any(|section| path.starts_with(section)) {
            continue;
        }
        let path = if path.ends_with(".md") {
            path.to_string()
        } else {
            format!("{}.md", path.trim_end_matches('/'))
        };
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

fn read_manifest(path: &Path) -> Result<Vec<Value>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    match snapshots::read_document(path)? {
        Value::Array(entries) => Ok(entries),
        _ => Err(format!("{}: expected a list of entries", path.display())),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `2026-08-01T12:00:00Z` for a time (UTC, whole seconds).
fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_as_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339(leap_day), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn picks_only_current_audit_log_and_bi_reference_pages() {
        let index = "# Datafold\n\
            - [Get Audit Logs](https://docs.datafold.com/api-reference/audit-logs/get-audit-logs.md): logs\n\
            - [List](https://docs.datafold.com/api-reference/bi/list-all-integrations): list\n\
            - [Old](https://docs.datafold.com/classic/api-reference/bi/list-all-integrations.md)\n\
            - [Diffs](https://docs.datafold.com/api-reference/data-diffs/list.md)\n\
            - [Again](https://docs.datafold.com/api-reference/audit-logs/get-audit-logs.md)\n";
        assert_eq!(
            reference_pages(index),
            vec![
                "/api-reference/audit-logs/get-audit-logs.md",
                "/api-reference/bi/list-all-integrations.md"
            ]
        );
    }
}
