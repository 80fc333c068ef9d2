//! The xtask's command line: every task and option it documents is accepted,
//! help exits 0, and a bad command line exits 2 before any work starts.

mod sandbox;

use sandbox::xtask;

#[test]
fn help_lists_the_tasks_and_exits_0() {
    for args in [&[][..], &["help"], &["--help"]] {
        let run = xtask(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        for task in ["docs", "bench", "spec"] {
            assert!(run.stdout.contains(task), "{args:?}: {}", run.stdout);
        }
    }
    for args in [
        &["docs"][..],
        &["docs", "--help"],
        &["docs", "check", "--help"],
    ] {
        let run = xtask(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.contains("check"), "{args:?}: {}", run.stdout);
    }
    let run = xtask(&["docs", "check", "--help"]);
    for flag in [
        "--snapshots",
        "--spec",
        "--deviations",
        "--format",
        "--all-versions",
    ] {
        assert!(run.stdout.contains(flag), "{flag}: {}", run.stdout);
    }
    let run = xtask(&["docs", "fetch", "--help"]);
    for flag in ["--base-url", "--out"] {
        assert!(run.stdout.contains(flag), "{flag}: {}", run.stdout);
    }
    for args in [&["bench", "help"][..], &["bench", "--help"]] {
        let run = xtask(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        for word in ["--build", "--quick", "audit_decode", "small_call", "export"] {
            assert!(run.stdout.contains(word), "{args:?} {word}: {}", run.stdout);
        }
    }
}

#[test]
fn a_bad_command_line_exits_2_and_says_what_is_wrong() {
    for (args, named) in [
        (&["nope"][..], "nope"),
        (&["docs", "nope"], "nope"),
        (&["docs", "check", "--nope"], "--nope"),
        (&["docs", "check", "stray"], "stray"),
        (&["docs", "check", "--snapshots"], "--snapshots"),
        (&["docs", "fetch", "--all-versions"], "--all-versions"),
        (&["bench", "audit-decode"], "audit-decode"),
        (&["bench", "--nope"], "--nope"),
        (&["spec", "nope"], "nope"),
        (&["spec", "impact", "--nope"], "--nope"),
        (
            &["spec", "impact", "--base", "HEAD", "--old", "x.yaml"],
            "--old",
        ),
        (&["spec", "impact", "--format", "yaml"], "yaml"),
    ] {
        let run = xtask(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(named), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} did work: {}", run.stdout);
    }
}
