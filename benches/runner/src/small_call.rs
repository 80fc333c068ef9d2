//! `small_call`: the round trip of `GET /api/v1/lineage/bi/{id}/` (a body of
//! a few hundred bytes) through the SDK and through raw reqwest, in
//! alternating blocks, each call timed on its own.

use std::time::Instant;

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

/// Run the figure with `calls` timed calls per arm.
pub async fn run(calls: usize) -> Result<(), BoxError> {
    let server = MockServer::builder().api_key(KEY).start()?;
    let sdk = datafold_sdk::Client::builder()
        .api_key(KEY)
        .host(server.url())
        .build()?;
    let raw = RawClient::new(server.url(), KEY)?;
    let created = sdk
        .bi()
        .create(
            DbtDataSourceConfig::builder()
                .ci_config_id(1)
                .name("bench"),
        )
        .await?;
    let id = created.id();
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
