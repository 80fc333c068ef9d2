//! Test sandbox: a private temporary folder holding a copy of one fixture's
//! snapshots, edits applied to it, and runs of the real `xtask` binary.

#![allow(dead_code)] // each test crate uses a different part of it

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The fixtures folder of the xtask crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A change to the sandbox's snapshots.
pub enum Edit {
    /// Replace text that occurs exactly once in the file.
    Replace(&'static str, &'static str, &'static str),
    /// Remove the text from the first marker up to (not including) the second.
    Cut(&'static str, &'static str, &'static str),
    /// Write a new file.
    Write(&'static str, String),
    /// Delete a file.
    Delete(&'static str),
    /// In a JSON file, set the value at a JSON pointer (the parent must exist).
    JsonSet(&'static str, String, Value),
    /// In a JSON file, remove the value at a JSON pointer.
    JsonRemove(&'static str, String),
    /// In a JSON file, move a value from one pointer to another.
    JsonMove(&'static str, String, String),
}

/// A temporary folder, removed on drop.
pub struct Sandbox {
    pub dir: PathBuf,
}

impl Sandbox {
    /// An empty sandbox with an empty `snapshots/` folder.
    pub fn empty() -> Sandbox {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("xtask-docs-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("snapshots")).expect("create sandbox");
        Sandbox { dir }
    }

    /// A sandbox whose `snapshots/` holds a copy of `fixtures/snapshots/<format>`.
    pub fn with(format: &str) -> Sandbox {
        let sandbox = Sandbox::empty();
        copy_dir(
            &fixtures().join("snapshots").join(format),
            &sandbox.snapshots(),
        );
        sandbox
    }

    pub fn snapshots(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    /// Applies an edit; panics if the edit would not change anything.
    pub fn apply(&self, edit: &Edit) {
        let path = |file: &str| self.snapshots().join(file);
        match edit {
            Edit::Replace(file, from, to) => {
                let text = fs::read_to_string(path(file)).expect("read file to edit");
                assert_eq!(
                    text.matches(from).count(),
                    1,
                    "`{from}` must occur once in {file}"
                );
                fs::write(path(file), text.replacen(from, to, 1)).expect("write edit");
            }
            Edit::Cut(file, start, end) => {
                let text = fs::read_to_string(path(file)).expect("read file to edit");
                let a = text
                    .find(start)
                    .unwrap_or_else(|| panic!("`{start}` not in {file}"));
                let b = a + text[a..]
                    .find(end)
                    .unwrap_or_else(|| panic!("`{end}` not after `{start}`"));
                fs::write(path(file), format!("{}{}", &text[..a], &text[b..])).expect("write edit");
            }
            Edit::Write(file, text) => self.write(file, text),
            Edit::Delete(file) => fs::remove_file(path(file)).expect("delete file"),
            Edit::JsonSet(file, pointer, value) => self.edit_json(file, |doc| {
                let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
                let key = key.replace("~1", "/").replace("~0", "~");
                let parent = doc
                    .pointer_mut(parent)
                    .unwrap_or_else(|| panic!("no {parent}"));
                match parent {
                    Value::Object(map) => {
                        assert_ne!(map.get(&key), Some(value), "{pointer} already holds that");
                        map.insert(key, value.clone());
                    }
                    Value::Array(items) => {
                        items[key.parse::<usize>().expect("index")] = value.clone()
                    }
                    _ => panic!("{pointer}: parent is not a container"),
                }
            }),
            Edit::JsonRemove(file, pointer) => self.edit_json(file, |doc| {
                take(doc, pointer);
            }),
            Edit::JsonMove(file, from, to) => {
                let mut moved = None;
                self.edit_json(file, |doc| moved = Some(take(doc, from)));
                self.apply(&Edit::JsonSet(
                    file,
                    to.clone(),
                    moved.expect("moved value"),
                ));
            }
        }
    }

    fn edit_json(&self, file: &str, change: impl FnOnce(&mut Value)) {
        let path = self.snapshots().join(file);
        let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).expect("read json"))
            .expect("parse json");
        change(&mut doc);
        fs::write(
            &path,
            serde_json::to_string_pretty(&doc).expect("encode json"),
        )
        .expect("write json");
    }

    /// Writes a file under `snapshots/`.
    pub fn write(&self, file: &str, text: &str) {
        let path = self.snapshots().join(file);
        fs::create_dir_all(path.parent().expect("parent")).expect("create folder");
        fs::write(path, text).expect("write file");
    }

    /// Runs `xtask docs check` on the sandbox's snapshots with the fixture spec and
    /// deviations, unless `args` names others.
    pub fn check(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec!["docs".into(), "check".into(), "--snapshots".into()];
        all.push(self.snapshots().display().to_string());
        if !args.contains(&"--spec") {
            all.extend([
                "--spec".to_string(),
                fixtures().join("spec.yaml").display().to_string(),
            ]);
        }
        if !args.contains(&"--deviations") {
            all.extend([
                "--deviations".to_string(),
                fixtures().join("deviations.yaml").display().to_string(),
            ]);
        }
        all.extend(args.iter().map(|a| a.to_string()));
        xtask(&all)
    }

    /// The report of `check --format json`.
    pub fn report(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let run = self.check(&all);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("json report does not parse: {e}\n{}", run.stdout))
    }

    /// Undeclared findings of `check --format json`, as their report lines.
    pub fn undeclared(&self, args: &[&str]) -> (i32, Vec<String>) {
        let report = self.report(args);
        let code = report["exit_code"].as_i64().expect("exit_code") as i32;
        let mut lines: Vec<String> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["declared"] == Value::Bool(false))
            .map(|f| f["text"].as_str().expect("text").to_string())
            .collect();
        lines.sort();
        (code, lines)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs the xtask binary with `args`.
pub fn xtask<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    // Loopback test servers must be reached directly, whatever the developer's proxy.
    for proxy in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    let output = command.args(args).output().expect("run xtask");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn take(doc: &mut Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let key = key.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => map
            .remove(&key)
            .unwrap_or_else(|| panic!("nothing at {pointer}")),
        _ => panic!("no object at {parent}"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create folder");
    for entry in fs::read_dir(from).expect("list fixture folder") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy fixture");
        }
    }
}
