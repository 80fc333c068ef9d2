//! `small_call`: the round trip of `GET /api/v1/lineage/bi/{id}/` (a body of
//! a few hundred bytes) through the SDK and through raw reqwest, in
//! alternating blocks, each call timed on its own.
//!
//! `small_call_instructions`: the same round trip counted in instructions
//! under valgrind's callgrind, which gives the same count for the same
//! binary and input whatever else the machine is doing.

use std::process::Command;
use std::time::Instant;

use clap::ValueEnum;

use datafold_sdk::mock::MockServer;
use datafold_sdk::types::DbtDataSourceConfig;

use crate::handwritten::{BoxError, RawClient};
use crate::lines::Line;
use crate::samples::{client_and_mock_cpu, mean, median, ms, order};
use crate::{report, KEY};

/// Calls per arm before the clock starts (connections, allocator, caches).
const WARMUP: usize = 200;
/// Calls per arm in one block; the arms alternate block by block.
const BLOCK: usize = 100;

/// A mock holding one integration, and the two clients of it.
struct Setup {
    /// The mock, which serves until this is dropped: bind it by name (a
    /// `..` pattern would drop it at once).
    _server: MockServer,
    sdk: datafold_sdk::Client,
    raw: RawClient,
    /// The integration both arms read.
    id: i64,
}

async fn setup() -> Result<Setup, BoxError> {
    let server = MockServer::builder().api_key(KEY).start()?;
    let sdk = datafold_sdk::Client::builder()
        .api_key(KEY)
        .host(server.url())
        .build()?;
    let raw = RawClient::new(server.url(), KEY)?;
    let created = sdk
        .bi()
        .create(DbtDataSourceConfig::builder().ci_config_id(1).name("bench"))
        .await?;
    Ok(Setup {
        id: created.id(),
        _server: server,
        sdk,
        raw,
    })
}

/// Run the figure with `calls` timed calls per arm.
pub async fn run(calls: usize) -> Result<(), BoxError> {
    let Setup {
        _server,
        sdk,
        raw,
        id,
    } = setup().await?;
    // Both sides read the same JSON.
    if sdk.bi().get(id).await?.raw() != &raw.get_integration(id).await? {
        return Err("the SDK and raw reqwest read different integrations".into());
    }
    for _ in 0..WARMUP {
        sdk.bi().get(id).await?;
        raw.get_integration(id).await?;
    }

    let blocks = calls.div_ceil(BLOCK);
    let mut times: [Vec<f64>; 2] = Default::default();
    // CPU seconds per arm: (client, mock).
    let mut cpu = [(0.0, 0.0); 2];
    for block in 0..blocks {
        for arm in order(&[0usize, 1], block) {
            let cpu_before = client_and_mock_cpu();
            for _ in 0..BLOCK {
                let started = Instant::now();
                if arm == 0 {
                    let integration = sdk.bi().get(id).await?;
                    let elapsed = started.elapsed();
                    std::hint::black_box(integration);
                    times[0].push(ms(elapsed) * 1e3);
                } else {
                    let integration = raw.get_integration(id).await?;
                    let elapsed = started.elapsed();
                    std::hint::black_box(integration);
                    times[1].push(ms(elapsed) * 1e3);
                }
            }
            let cpu_after = client_and_mock_cpu();
            cpu[arm].0 += cpu_after.0 - cpu_before.0;
            cpu[arm].1 += cpu_after.1 - cpu_before.1;
        }
    }
    let per_call = (blocks * BLOCK) as f64 / 1e6;

    let [sdk_us, raw_us] = [median(&times[0]), median(&times[1])];
    println!(
        "small_call: {} calls per arm in blocks of {BLOCK}, arms alternating, after {WARMUP} warm-up calls each",
        blocks * BLOCK
    );
    for (arm, name) in [(0, "sdk"), (1, "raw")] {
        println!(
            "  {name}: median {:6.1} us, mean {:6.1} us wall; CPU per call client {:5.1} us, mock {:5.1} us",
            median(&times[arm]),
            mean(&times[arm]),
            cpu[arm].0 / per_call,
            cpu[arm].1 / per_call,
        );
    }
    report(Line::figure("small_call_sdk", sdk_us, "us"));
    report(Line::figure("small_call_raw", raw_us, "us"));
    report(Line::ratio("small_call", "sdk/raw", sdk_us / raw_us));
    Ok(())
}

/// Which client a counted child uses.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arm {
    Sdk,
    Raw,
}

/// The child of `small_call_instructions`: `calls` calls through `arm`,
/// after the same set-up whatever the count.
pub fn child(arm: Arm, calls: usize) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let setup = setup().await?;
        for _ in 0..calls {
            match arm {
                Arm::Sdk => drop(std::hint::black_box(setup.sdk.bi().get(setup.id).await?)),
                Arm::Raw => drop(std::hint::black_box(
                    setup.raw.get_integration(setup.id).await?,
                )),
            }
        }
        Ok(())
    })
}

/// Count the instructions of `calls` calls per arm: each arm's child runs
/// under callgrind with a few calls and with `calls` more, so that the
/// difference leaves out start-up and set-up. Client and mock together:
/// the mock answers both arms alike, so their difference is the clients'.
pub fn instructions(calls: usize) -> Result<(), BoxError> {
    // Without valgrind the figure is left out, said once, and the others go on.
    if let Err(e) = Command::new("valgrind").arg("--version").output() {
        println!(
            "small_call_instructions: skipped, no result line: cannot run valgrind ({e}); \
             install it (Debian: apt install valgrind) to count the calls"
        );
        return Ok(());
    }
    let calls = calls.max(1);
    let few = (calls / 5).max(1);
    let mut per_call = [0.0; 2];
    for (slot, arm) in [Arm::Sdk, Arm::Raw].into_iter().enumerate() {
        let (lo, hi) = (counted(arm, few)?, counted(arm, few + calls)?);
        per_call[slot] = hi.saturating_sub(lo) as f64 / calls as f64;
    }
    let [sdk, raw] = per_call;
    println!(
        "small_call_instructions: {calls} calls per arm counted by callgrind (after {few} calls and set-up, left out): \
         sdk {:.1}k, raw {:.1}k instructions per call, client and mock",
        sdk / 1e3,
        raw / 1e3
    );
    report(Line::figure(
        "small_call_instructions_sdk",
        sdk,
        "instructions",
    ));
    report(Line::figure(
        "small_call_instructions_raw",
        raw,
        "instructions",
    ));
    report(Line::ratio("small_call_instructions", "sdk/raw", sdk / raw));
    Ok(())
}

/// The instructions callgrind counts for one child making `calls` calls.
fn counted(arm: Arm, calls: usize) -> Result<u64, BoxError> {
    let arm_name = arm.to_possible_value().map(|v| v.get_name().to_owned());
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(std::env::current_exe()?)
        .arg("calls-child")
        .arg(arm_name.unwrap_or_default())
        .arg(calls.to_string())
        .output()
        .map_err(|e| format!("cannot run valgrind ({e})"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // The child says what failed on stdout; valgrind talks on stderr.
        let said = String::from_utf8_lossy(&output.stdout);
        return Err(format!("the counted child failed ({}): {said}", output.status).into());
    }
    stderr
        .lines()
        .find_map(|line| {
            line.split_once("Collected :")
                .map(|(_, n)| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no instruction count in callgrind's output: {stderr}").into())
}
