//! `datafold audit-logs follow` against the mock's live traffic (late
//! commits, injected faults): killed with SIGKILL at random moments and
//! restarted, stopped with SIGTERM, writing rotated and compressed files,
//! each record lands exactly once; a state file of another follow is refused.

#![cfg(all(unix, feature = "cli"))]

mod cli_support;
mod follow_support;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{datafold, scratch};
use datafold_sdk::mock::{Fault, Faults, MockServer};
use follow_support::{
    assert_exactly_the_truth, drain, finish, follow, follow_scripted, live_mock, records_in,
    scripted_server, signal, watermark, LAG_SECS,
};
use serde_json::Value;

#[test]
fn killed_twenty_times_at_random_moments_it_writes_every_record_once() {
    let faults = Faults::new()
        .seed(3)
        .rate(Fault::Unavailable, 0.1)
        .rate(Fault::TruncatedBody, 0.05)
        .retry_after_secs(0);
    let server = live_mock(300.0, faults);
    let dir = scratch("follow", "kill");
    let state = dir.join("state.json");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let extra = ["--compress", "gzip", "--rotate-every", "700ms"];
    // A fixed pseudo-random sequence of kill moments, 50 to 650 ms.
    let mut draw = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..20 {
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        let child = follow(&server, &state, &out, &extra).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(50 + draw % 600));
        signal(&child, libc::SIGKILL);
        finish(child);
    }
    drain(&server, &state, &out, &extra);
    let (counts, files) = records_in(&out);
    assert_exactly_the_truth(&server, &counts);
    assert!(files.len() > 1, "the files were rotated: {files:?}");
    let hidden: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        hidden.is_empty(),
        "a stop with SIGTERM closes the open file: {hidden:?}"
    );
}

#[test]
fn sigterm_exits_zero_and_the_state_resumes_cleanly() {
    let server = live_mock(200.0, Faults::new());
    let dir = scratch("follow", "term");
    let state = dir.join("state.json");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    for _ in 0..3 {
        let child = follow(&server, &state, &out, &[]).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while watermark(&state).is_none() {
            assert!(Instant::now() < deadline, "no state was saved");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(700));
        signal(&child, libc::SIGTERM);
        let (code, stderr) = finish(child);
        assert_eq!(code, Some(0), "{stderr}");
        // Each stop closes its file: everything written is visible.
        let (counts, _) = records_in(&out);
        assert!(counts.values().all(|n| *n == 1));
    }
    drain(&server, &state, &out, &[]);
    let (counts, files) = records_in(&out);
    assert_exactly_the_truth(&server, &counts);
    // One file per run at least; names sort in the order they were written.
    let seqs: Vec<u64> = files
        .iter()
        .map(|f| {
            f.file_name().unwrap().to_string_lossy()[6..12]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{files:?}");
}

#[test]
fn rotated_zstd_files_decompress_to_the_records_and_verbose_reports_each_poll() {
    let server = live_mock(400.0, Faults::new());
    let dir = scratch("follow", "zstd");
    let state = dir.join("state.json");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let extra = ["--compress", "zstd", "--rotate-every", "300ms", "-v"];
    let started = chrono::Utc::now();
    let child = follow(&server, &state, &out, &extra).spawn().unwrap();
    // Polling for two seconds of traffic: about twenty polls.
    let deadline = Instant::now() + Duration::from_secs(60);
    while watermark(&state).is_none_or(|w| w < started + chrono::Duration::seconds(2)) {
        assert!(Instant::now() < deadline, "the follow did not poll");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains(" DEBUG poll "))
            .count()
            >= 3,
        "{stderr}"
    );
    assert!(stderr.contains(" behind now"), "{stderr}");
    drain(
        &server,
        &state,
        &out,
        &["--compress", "zstd", "--rotate-every", "300ms"],
    );
    let (counts, files) = records_in(&out);
    assert!(files.len() >= 3, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.to_string_lossy().ends_with(".jsonl.zst")));
    assert_exactly_the_truth(&server, &counts);
}

/// Start a follow and wait until it has saved a state with a committed open
/// file (so that it has written something).
fn start_and_wait_for_a_commit(
    server: &MockServer,
    state: &Path,
    dir: &Path,
    extra: &[&str],
) -> Child {
    let before = std::fs::read_to_string(state).ok();
    let mut child = follow(server, state, dir, extra).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let committed = || {
        let now = std::fs::read_to_string(state).ok();
        let open_bytes = now
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .and_then(|v| v["output"]["open"]["bytes"].as_u64());
        // Saved by this run (so its signal handlers are in place).
        now != before && open_bytes.is_some_and(|b| b > 0)
    };
    while !committed() {
        if Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("no commit was saved");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_state_file_of_another_follow_is_refused_and_nothing_is_written() {
    let server = live_mock(100.0, Faults::new());
    let dir = scratch("follow", "foreign");
    let state = dir.join("state.json");
    let (first, second) = (dir.join("first"), dir.join("second"));
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&second).unwrap();
    let child = start_and_wait_for_a_commit(&server, &state, &first, &[]);
    // While it runs, a second follow on the same state or directory is refused.
    let second_run = follow(&server, &state, &first, &[]).spawn().unwrap();
    let (code, stderr) = finish(second_run);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("another follow is running"), "{stderr}");
    signal(&child, libc::SIGTERM);
    assert_eq!(finish(child).0, Some(0));

    // Another directory, another compression, another host: each refused.
    let mut other_host = follow(&server, &state, &first, &[]);
    other_host.env(
        "DATAFOLD_HOST",
        server.url().replace("127.0.0.1", "localhost"),
    );
    let runs = [
        (follow(&server, &state, &second, &[]), "not"),
        (
            follow(&server, &state, &first, &["--compress", "gzip"]),
            "--compress none",
        ),
        (other_host, "another host"),
    ];
    for (mut command, says) in runs {
        let (code, stderr) = finish(command.spawn().unwrap());
        assert_eq!(code, Some(5), "{stderr}");
        assert!(stderr.contains("--state file"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(&second).unwrap().count(), 0);
}

#[test]
fn hidden_files_without_their_state_are_refused_not_removed() {
    let server = live_mock(50.0, Faults::new());
    let dir = scratch("follow", "orphans");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let orphan = out.join(".audit-000003-20261127T000000Z.jsonl.partial");
    std::fs::write(&orphan, "{\"event_uuid\":\"kept\"}\n").unwrap();
    let (code, stderr) = finish(
        follow(&server, &dir.join("new.state"), &out, &[])
            .spawn()
            .unwrap(),
    );
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains(".audit-000003-"), "{stderr}");
    assert!(orphan.exists(), "the hidden file is left alone");
}

#[test]
fn a_file_closed_or_shipped_before_the_state_said_so_resumes_cleanly() {
    let server = live_mock(200.0, Faults::new());
    let dir = scratch("follow", "closed");
    let state = dir.join("state.json");
    let (out, shipped) = (dir.join("out"), dir.join("shipped"));
    std::fs::create_dir(&out).unwrap();
    std::fs::create_dir(&shipped).unwrap();
    for take_away in [false, true] {
        // A crash right after the rename that closes a file, before the
        // state says so: the file is complete up to the last commit.
        let child = start_and_wait_for_a_commit(&server, &state, &out, &["--rotate-every", "1h"]);
        std::thread::sleep(Duration::from_millis(500));
        signal(&child, libc::SIGKILL);
        finish(child);
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        let open = &saved["output"]["open"];
        let name = open["name"].as_str().unwrap();
        let partial = out.join(format!(".{name}.partial"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&partial)
            .unwrap();
        file.set_len(open["bytes"].as_u64().unwrap()).unwrap();
        std::fs::rename(&partial, out.join(name)).unwrap();
        if take_away {
            // ...and the shipper took the closed file away.
            std::fs::rename(out.join(name), shipped.join(name)).unwrap();
        }
        let child = start_and_wait_for_a_commit(&server, &state, &out, &["--rotate-every", "1h"]);
        signal(&child, libc::SIGTERM);
        let (code, stderr) = finish(child);
        assert_eq!(code, Some(0), "{stderr}");
    }
    drain(&server, &state, &out, &[]);
    let (mut counts, _) = records_in(&out);
    for (id, n) in records_in(&shipped).0 {
        *counts.entry(id).or_insert(0) += n;
    }
    assert_exactly_the_truth(&server, &counts);
}

/// `datafold audit-logs follow` to stdout with the state in `state`.
fn follow_stdout(server: &MockServer, state: &Path) -> Command {
    let mut command = datafold(server.api_key(), server.url());
    command
        .args([
            "audit-logs",
            "follow",
            "--interval",
            "100ms",
            "--since",
            "10m",
        ])
        .args(["--lag", &format!("{LAG_SECS}s"), "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Run `command` until `ready(state)`, then SIGTERM it: its stdout.
fn run_until(mut command: Command, state: &Path, ready: impl Fn(&Path) -> bool) -> String {
    let before = std::fs::read_to_string(state).ok();
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(state).ok() == before || !ready(state) {
        assert!(Instant::now() < deadline, "the follow did not get there");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    reader.join().unwrap()
}

#[test]
fn to_stdout_each_record_is_one_json_line_and_a_graceful_restart_repeats_none() {
    let server = live_mock(200.0, Faults::new());
    let dir = scratch("follow", "stdout");
    let state = dir.join("state.json");
    let started = chrono::Utc::now();
    let first = run_until(follow_stdout(&server, &state), &state, |state| {
        watermark(state).is_some_and(|w| w > started)
    });
    std::thread::sleep(Duration::from_millis(500));
    server.stop_live_traffic();
    let stopped = chrono::Utc::now() + chrono::Duration::milliseconds(1600);
    let second = run_until(follow_stdout(&server, &state), &state, |state| {
        watermark(state).is_some_and(|w| w - chrono::Duration::seconds(LAG_SECS) > stopped)
    });
    let mut counts = HashMap::new();
    for line in first.lines().chain(second.lines()) {
        let record: Value = serde_json::from_str(line).unwrap();
        *counts
            .entry(record["event_uuid"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert!(!first.is_empty() && !second.is_empty());
    assert_exactly_the_truth(&server, &counts);
}

#[test]
fn planted_symbolic_links_are_refused_and_nothing_is_written_through_them() {
    let server = live_mock(50.0, Faults::new());
    let dir = scratch("follow", "symlinks");
    let (out, elsewhere) = (dir.join("out"), dir.join("elsewhere"));
    std::fs::create_dir(&out).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let victim = elsewhere.join("victim");
    std::fs::write(&victim, "untouched").unwrap();

    // The state file, its lock file, and the output directory, each a link.
    let state_link = dir.join("state-link.json");
    std::os::unix::fs::symlink(&victim, &state_link).unwrap();
    let lock_link_state = dir.join("locked.json");
    std::os::unix::fs::symlink(&victim, dir.join("locked.json.lock")).unwrap();
    let dir_link = dir.join("out-link");
    std::os::unix::fs::symlink(&elsewhere, &dir_link).unwrap();
    let runs = [
        follow(&server, &state_link, &out, &[]),
        follow(&server, &lock_link_state, &out, &[]),
        follow(&server, &dir.join("fresh.json"), &dir_link, &[]),
    ];
    for mut command in runs {
        let (code, stderr) = finish(command.spawn().unwrap());
        assert_eq!(code, Some(5), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let in_elsewhere: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().collect();
    assert_eq!(
        in_elsewhere.len(),
        1,
        "nothing was written through the links"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// Run a follow until it has committed into an open file, then kill it: the
/// state records the open file.
fn state_with_an_open_file(server: &MockServer, state: &Path, out: &Path) -> Value {
    let child = start_and_wait_for_a_commit(server, state, out, &["--rotate-every", "1h"]);
    signal(&child, libc::SIGKILL);
    finish(child);
    serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap()
}

fn save_state(state: &Path, value: &Value) {
    std::fs::write(state, serde_json::to_vec(value).unwrap()).unwrap();
}

#[test]
fn a_state_naming_a_file_outside_the_directory_is_refused_and_nothing_is_touched() {
    let server = live_mock(100.0, Faults::new());
    let dir = scratch("follow", "escape");
    let state = dir.join("state.json");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let saved = state_with_an_open_file(&server, &state, &out);
    let partial_before = std::fs::read_dir(&out).unwrap().count();

    // Files beside the directory that the tampered names point at.
    let beside = dir.join("v.partial");
    std::fs::write(&beside, "not the follow's").unwrap();
    let absolute = dir.join("abs");
    std::fs::write(&absolute, "not the follow's either").unwrap();
    let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for name in [
        "/../v".to_owned(),
        "./../v".to_owned(),
        absolute.display().to_string(),
        "audit-000000-x.jsonl".to_owned(),
    ] {
        let mut tampered = saved.clone();
        tampered["output"]["open"]["name"] = Value::from(name.clone());
        tampered["output"]["open"]["bytes"] = Value::from(0);
        tampered["output"]["open"]["sha256"] = Value::from(empty_sha);
        save_state(&state, &tampered);
        let (code, stderr) = finish(follow(&server, &state, &out, &[]).spawn().unwrap());
        assert_eq!(code, Some(5), "{name}: {stderr}");
        assert!(
            stderr.contains("does not belong to this follow"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&beside).unwrap(),
        "not the follow's"
    );
    assert_eq!(
        std::fs::read_to_string(&absolute).unwrap(),
        "not the follow's either"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), partial_before);

    // A file number that would wrap, or leave the names' sort order.
    for seq in [u64::MAX, 1_000_001] {
        let mut tampered = saved.clone();
        tampered["output"]["seq"] = Value::from(seq);
        tampered["output"]["open"] = Value::Null;
        save_state(&state, &tampered);
        let (code, stderr) = finish(follow(&server, &state, &out, &[]).spawn().unwrap());
        assert_eq!(code, Some(5), "{seq}: {stderr}");
        assert!(stderr.contains("file number"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), partial_before);
}

#[test]
fn a_file_numbered_past_the_last_in_the_directory_is_refused_not_wrapped() {
    let server = live_mock(50.0, Faults::new());
    let dir = scratch("follow", "wrap");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let planted = out.join(format!("audit-{}-20261127T000000Z.jsonl", u64::MAX));
    std::fs::write(&planted, "").unwrap();
    let (code, stderr) = finish(
        follow(&server, &dir.join("state.json"), &out, &[])
            .spawn()
            .unwrap(),
    );
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("numbered past"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn a_missing_output_dir_is_created_private_and_used() {
    use std::os::unix::fs::PermissionsExt;
    let server = live_mock(100.0, Faults::new());
    let dir = scratch("follow", "newdir");
    let state = dir.join("state.json");
    let out = dir.join("newdir");
    let child = start_and_wait_for_a_commit(&server, &state, &out, &[]);
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert!(
        !records_in(&out).1.is_empty(),
        "the follow wrote its files there"
    );
}

#[test]
fn a_hidden_entry_that_is_a_directory_is_refused_as_input_and_left_alone() {
    let server = live_mock(100.0, Faults::new());
    let dir = scratch("follow", "hidden-dir");
    let state = dir.join("state.json");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let child = start_and_wait_for_a_commit(&server, &state, &out, &[]);
    signal(&child, libc::SIGTERM);
    assert_eq!(finish(child).0, Some(0));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let seq = saved["output"]["seq"].as_u64().unwrap();
    let odd = out.join(format!(".audit-{seq:06}-20261127T000000Z.jsonl.partial"));
    std::fs::create_dir(&odd).unwrap();
    let (code, stderr) = finish(follow(&server, &state, &out, &[]).spawn().unwrap());
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(stderr.contains("--output-dir"), "{stderr}");
    assert!(!stderr.contains("--output "), "{stderr}");
    assert!(odd.is_dir(), "left where it was");
}

#[test]
fn bad_bodies_and_unreadable_records_do_not_stop_it_and_are_set_aside_once() {
    let base = chrono::Utc::now() - chrono::Duration::seconds(1);
    let record = |id: &str, timestamp: Value| {
        serde_json::json!({
            "timestamp": timestamp, "event_uuid": id, "client_ip": "10.0.0.1", "url": "/x",
            "client_secret": "hunter2-never-shown",
        })
        .to_string()
    };
    let url = scripted_server(move |n| {
        let goods: Vec<String> = (0..5)
            .map(|i| {
                let at = base + chrono::Duration::milliseconds(i);
                record(&format!("good-{i}"), Value::from(at.to_rfc3339()))
            })
            .collect();
        if n == 0 {
            // Broken mid-stream: brackets that do not close what they open.
            return format!("{{\"logs\":[{},{}]]", goods[0], goods[1]);
        }
        let mut records = goods;
        records.insert(2, record("bad-number", Value::from(1_764_000_000)));
        records.push(record("bad-time", Value::from("not a time")));
        format!("{{\"logs\":[{}]}}", records.join(","))
    });
    let dir = scratch("follow", "bad-bodies");
    let (state, out) = (dir.join("state.json"), dir.join("out"));
    let rejected = out.join("rejected");
    std::fs::create_dir(&out).unwrap();
    let flags = ["-v".as_ref(), "--state".as_ref(), state.as_os_str()];
    let dirs = ["--output-dir".as_ref(), out.as_os_str()];
    let mut command = follow_scripted(&url, &[&flags[..], &dirs[..]].concat());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Rejected files by their final names (not a temporary file being
    // written).
    let count = |dir: &Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                !name.starts_with('.') && name.ends_with(".json")
            })
            .count()
        })
    };
    while count(&rejected) < 2 {
        if child.try_wait().unwrap().is_some() {
            panic!("it stopped: {:?}", finish(child));
        }
        if Instant::now() >= deadline {
            signal(&child, libc::SIGKILL);
            panic!("not set aside: {:?}", finish(child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A few more polls: nothing set aside or failed again.
    std::thread::sleep(Duration::from_millis(800));
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("  WARN a poll failed"), "{stderr}");
    assert_eq!(
        stderr.matches("cannot be read (").count(),
        2,
        "each set aside once, said at the default level: {stderr}"
    );
    assert!(stderr.contains("set aside as unreadable"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let (counts, _) = records_in(&out);
    let mut ids: Vec<_> = counts.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    ids.sort();
    let expected: Vec<(String, u32)> = (0..5).map(|i| (format!("good-{i}"), 1)).collect();
    let expected: Vec<(&str, u32)> = expected.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    assert_eq!(
        ids, expected,
        "every readable record once, no unreadable one"
    );

    let mut kept: Vec<Value> = std::fs::read_dir(&rejected)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    kept.sort_by_key(|v| v["event_uuid"].as_str().unwrap().to_owned());
    assert_eq!(kept[0]["event_uuid"], "bad-number");
    assert_eq!(kept[0]["record"]["timestamp"], 1_764_000_000);
    assert_eq!(kept[0]["record"]["client_secret"], "[REDACTED]");
    assert!(kept[0]["problem"].as_str().unwrap().contains("timestamp"));
    assert_eq!(kept[1]["event_uuid"], "bad-time");
    assert_eq!(kept[1]["record"]["timestamp"], "not a time");

    // A restart with the state sets nothing aside again.
    let child = command.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, libc::SIGTERM);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("cannot be read"), "{stderr}");
    assert!(!stderr.contains("a poll failed"), "{stderr}");
    assert!(stderr.contains("poll "), "polls completed: {stderr}");
    assert_eq!(count(&rejected), 2);
    let (after, _) = records_in(&out);
    assert!(
        after.len() == 5 && after.values().all(|n| *n == 1),
        "{after:?}"
    );
}

#[test]
fn an_unusable_rejected_dir_is_refused_at_the_start() {
    let server = live_mock(50.0, Faults::new());
    let dir = scratch("follow", "rejected-dir");
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    for rejected in [file.clone(), file.join("below")] {
        let mut command = follow(&server, &dir.join("state.json"), &out, &[]);
        command.arg("--rejected-dir").arg(&rejected);
        let (code, stderr) = finish(command.spawn().unwrap());
        assert_eq!(code, Some(5), "{stderr}");
        assert!(stderr.contains("--rejected-dir"), "{stderr}");
        assert!(
            stderr.to_lowercase().contains("not a directory"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}
