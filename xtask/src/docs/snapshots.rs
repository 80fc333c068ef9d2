//! Finds and reads every docs snapshot under a directory, recursively.
//!
//! | file | read as |
//! |---|---|
//! | `*.md` with a ```` ```yaml ```` block holding `paths: {path, method, ...}` | Mintlify page, "resolved" format |
//! | `*.md` with a ```` ```yaml ```` block holding `openapi: 3.x` | Mintlify page, "openapi-3.1" format |
//! | `*.txt` | rendered page (see `rendered`) |
//! | `*.json`, `*.yaml`, `*.yml` with `openapi: 3.x` | whole OpenAPI document (`docs fetch` stores the published one as `pages/<name>/<n>.json`) |
//! | `MANIFEST.json` / `manifest.json` (a list of `{file, slug, version, ...}`) | manifest: names the page and orders its versions |
//! | `INDEX.md`, `README.md` without a yaml block | documentation of the folder, skipped by name |
//!
//! Anything else is an error: a file the check cannot interpret is never
//! silently skipped. Pages are identified by slug and version: from the
//! manifest if one lists the file, else from `<slug>/<n>.md`, else from the
//! page's `# Source:` URL and file name. Documents are versioned the same way
//! when the manifest lists them or they are stored as `<slug>/<n>.json`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::Operation;
use super::{openapi, rendered, resolved};

/// The two Mintlify page formats, oldest era first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PageFormat {
    /// Older export: `paths: {path, method, request, response}`.
    Resolved,
    /// Newer export: a self-contained `openapi: 3.1.0` document.
    OpenApi31,
}

impl PageFormat {
    /// The name MANIFEST.json uses.
    pub fn name(self) -> &'static str {
        match self {
            PageFormat::Resolved => "resolved",
            PageFormat::OpenApi31 => "openapi-3.1",
        }
    }
}

/// Which version of a page or a published document a snapshot file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionId {
    /// The page's slug (`update-a-power-bi-integration`), or the document's
    /// name without its extension (`openapi-public`).
    pub slug: String,
    /// Version number within the slug, oldest first.
    pub version: u32,
    /// RFC 3339 fetch time, when a manifest records one.
    pub fetched_at: Option<String>,
}

/// What kind of snapshot a source is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A Mintlify page (one operation); the format also tells its era.
    Page(PageFormat, VersionId),
    /// A whole OpenAPI document; versioned when a manifest lists it or it is
    /// stored as `<slug>/<n>.json`, else a single copy.
    Document(Option<VersionId>),
    /// A rendered page.
    Rendered,
}

/// One snapshot file and the operations it describes.
#[derive(Clone, Debug)]
pub struct Source {
    /// Path relative to the snapshot directory, for messages.
    pub file: String,
    /// What it is.
    pub kind: SourceKind,
    /// The operations it describes.
    pub operations: Vec<Operation>,
}

/// Everything found under a snapshot directory.
#[derive(Debug, Default)]
pub struct Snapshots {
    /// Files read as snapshots.
    pub sources: Vec<Source>,
    /// Files recognised as not being snapshots: (file, what it is).
    pub skipped: Vec<(String, &'static str)>,
    /// Files that could not be read or interpreted: `file: why`.
    pub errors: Vec<String>,
}

/// Reads every file under `root`.
pub fn load(root: &Path) -> Snapshots {
    let mut snapshots = Snapshots::default();
    let mut files = Vec::new();
    if !root.is_dir() {
        snapshots.errors.push(format!(
            "no such directory; run `cargo xtask docs fetch --out {}` or pass --snapshots DIR",
            root.display()
        ));
        return snapshots;
    }
    if let Err(e) = walk(root, &mut files) {
        snapshots.errors.push(e);
        return snapshots;
    }
    let mut manifests = Vec::new();
    for path in files {
        let file = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        match read_snapshot(&path) {
            Ok(Read::Source(kind, operations)) => snapshots.sources.push(Source {
                file,
                kind,
                operations,
            }),
            Ok(Read::Manifest(entries)) => {
                manifests.push((path.clone(), entries));
                snapshots.skipped.push((file, "manifest"));
            }
            Ok(Read::NotASnapshot(what)) => snapshots.skipped.push((file, what)),
            Err(e) => snapshots.errors.push(format!("{file}: {e}")),
        }
    }
    for (manifest, entries) in manifests {
        apply_manifest(root, &manifest, &entries, &mut snapshots);
    }
    snapshots
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list the directory: {e}"))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot list the directory: {e}"))?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

enum Read {
    Source(SourceKind, Vec<Operation>),
    Manifest(Vec<Value>),
    NotASnapshot(&'static str),
}

fn read_snapshot(path: &Path) -> Result<Read, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let text = || fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"));
    match extension.as_str() {
        "md" => {
            let text = text()?;
            if (name == "index.md" || name == "readme.md") && fenced_yaml(&text).is_none() {
                return Ok(Read::NotASnapshot("documentation of the folder"));
            }
            let (format, operations) = page(&text)?;
            let id = page_id(path, &text);
            Ok(Read::Source(SourceKind::Page(format, id), operations))
        }
        "txt" => {
            let operation = rendered::operation(&text()?).map_err(|e| format!("not a rendered API page: {e}"))?;
            Ok(Read::Source(SourceKind::Rendered, vec![operation]))
        }
        "json" | "yaml" | "yml" => {
            let doc = read_document(path)?;
            if openapi::is_openapi(&doc) {
                let id = numbered(path).map(|(slug, version)| VersionId { slug, version, fetched_at: None });
                return Ok(Read::Source(SourceKind::Document(id), openapi::operations(&doc)?));
            }
            match doc {
                Value::Array(entries) if name == "manifest.json" => Ok(Read::Manifest(entries)),
                _ => Err("neither an OpenAPI 3.x document (no `openapi: 3.x`) nor a snapshot MANIFEST.json".to_string()),
            }
        }
        _ => Err("not a snapshot (expected a .md page, a .txt rendered page, or a .json/.yaml OpenAPI document)".to_string()),
    }
}

/// Reads a Mintlify page: its format and its operations.
pub fn page(text: &str) -> Result<(PageFormat, Vec<Operation>), String> {
    let (_, yaml) = fenced_yaml(text).ok_or("no ```yaml block with an OpenAPI description")?;
    let doc = parse_yaml(yaml).map_err(|e| format!("the yaml block does not parse: {e}"))?;
    if openapi::is_openapi(&doc) {
        Ok((PageFormat::OpenApi31, openapi::operations(&doc)?))
    } else if resolved::is_resolved(&doc) {
        Ok((PageFormat::Resolved, vec![resolved::operation(&doc)?]))
    } else {
        Err("the yaml block is neither an `openapi: 3.x` document nor a resolved `paths: {path, method}` page".to_string())
    }
}

/// The published OpenAPI documents a page names in its yaml fence header
/// (```` ```yaml openapi-public.json put /path ````), as written there.
pub fn published_documents(text: &str) -> Vec<String> {
    let Some((header, _)) = fenced_yaml(text) else {
        return Vec::new();
    };
    header
        .split_whitespace()
        .skip(1)
        .filter(|word| {
            let lower = word.to_ascii_lowercase();
            [".json", ".yaml", ".yml"]
                .iter()
                .any(|e| lower.ends_with(e))
        })
        .map(str::to_string)
        .collect()
}

/// The info string (`yaml openapi-public.json put /path`) and the body of the
/// first fenced block whose info string starts with `yaml`.
fn fenced_yaml(text: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    let mut fence: Option<(&str, &str, usize)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        match fence {
            None => {
                let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
                let info = trimmed[ticks..].trim_start();
                if ticks >= 3 && info.starts_with("yaml") {
                    fence = Some((&trimmed[..ticks], info, offset + line.len()));
                }
            }
            Some((ticks, info, start))
                if trimmed.starts_with(ticks) && trimmed.trim_start_matches('`').is_empty() =>
            {
                return Some((info, &text[start..offset]));
            }
            Some(_) => {}
        }
        offset += line.len();
    }
    // An unterminated block runs to the end of the page.
    fence.map(|(_, info, start)| (info, &text[start..]))
}

/// `(slug, n)` for a file stored as `<slug>/<n>.<ext>`.
fn numbered(path: &Path) -> Option<(String, u32)> {
    let version = path.file_stem()?.to_str()?.parse::<u32>().ok()?;
    let slug = path.parent()?.file_name()?.to_str()?;
    Some((slug.to_string(), version))
}

fn page_id(path: &Path, text: &str) -> VersionId {
    if let Some((slug, version)) = numbered(path) {
        return VersionId {
            slug,
            version,
            fetched_at: None,
        };
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let from_source = text
        .lines()
        .find_map(|line| line.strip_prefix("# Source:"))
        .and_then(|url| url.trim().rsplit('/').next())
        .map(|last| last.trim_end_matches(".md").to_string());
    VersionId {
        slug: from_source.unwrap_or_else(|| stem.to_string()),
        version: 1,
        fetched_at: None,
    }
}

fn apply_manifest(root: &Path, manifest: &Path, entries: &[Value], snapshots: &mut Snapshots) {
    for entry in entries {
        let Some(file) = entry.get("file").and_then(Value::as_str) else {
            snapshots
                .errors
                .push(format!("{}: an entry has no `file`", manifest.display()));
            continue;
        };
        // `file` is relative to the manifest's folder or one of its ancestors up to the root.
        let target = manifest
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(root))
            .map(|dir| dir.join(file))
            .find(|candidate| candidate.is_file());
        let Some(target) = target else { continue };
        let relative = target
            .strip_prefix(root)
            .unwrap_or(&target)
            .display()
            .to_string();
        let Some(source) = snapshots.sources.iter_mut().find(|s| s.file == relative) else {
            continue;
        };
        let versioned = match &mut source.kind {
            SourceKind::Page(_, id) => Some(id),
            SourceKind::Document(id) => Some(id.get_or_insert_with(|| {
                VersionId {
                    slug: Path::new(&relative)
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string(),
                    version: 1,
                    fetched_at: None,
                }
            })),
            SourceKind::Rendered => None,
        };
        if let Some(id) = versioned {
            if let Some(slug) = entry.get("slug").and_then(Value::as_str) {
                id.slug = slug.to_string();
            }
            if let Some(version) = entry.get("version").and_then(Value::as_u64) {
                id.version = u32::try_from(version).unwrap_or(u32::MAX);
            }
            id.fetched_at = entry
                .get("fetched_at")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
}

/// Reads a JSON or YAML document (by extension; YAML otherwise).
pub fn read_document(path: &Path) -> Result<Value, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))
    } else {
        parse_yaml(&text).map_err(|e| format!("not valid YAML: {e}"))
    }
}

/// Parses YAML into JSON values; non-string keys (`200:`) become strings.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    Ok(yaml_to_json(yaml))
}

fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_header_names_the_published_document_with_or_without_a_slash() {
        let page = |header: &str| format!("# Page\n\n````yaml {header}\nopenapi: 3.1.0\n````\n");
        assert_eq!(
            published_documents(&page("openapi-public.json put /api/v1/x/")),
            vec!["openapi-public.json"]
        );
        assert_eq!(
            published_documents(&page("/openapi-public.json put /api/v1/x/")),
            vec!["/openapi-public.json"]
        );
        assert!(published_documents(&page("get /api/v1/audit_logs")).is_empty());
        assert!(published_documents("# no yaml block\n").is_empty());
    }
}
