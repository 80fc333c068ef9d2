//! A first program against datafold-sdk, written as its README and rustdoc
//! show: list the BI integrations, create a dbt one with `.name("dbt")`, and
//! stream the last week of audit logs, once with the stream's own `next()`
//! and once through the re-exported `StreamExt`.
//!
//! It talks only to the embedded mock, whatever the environment holds: it
//! creates an integration, which must never happen in a real organization
//! because a test ran.

use datafold_sdk::chrono::{Duration, Utc};
use datafold_sdk::types::DbtDataSourceConfig;
use datafold_sdk::{Client, StreamExt, TryStreamExt};

/// What the program saw.
#[derive(Debug)]
struct Seen {
    created_id: i64,
    created_name: String,
    streamed: Vec<String>,
    streamed_again: Vec<String>,
}

async fn run(client: &Client) -> Result<Seen, datafold_sdk::Error> {
    for integration in &client.bi().list().await? {
        println!("{} {}", integration.id(), integration.name().unwrap_or("-"));
    }

    let config = DbtDataSourceConfig::builder()
        .ci_config_id(7)
        .name("dbt")
        .indexing_cron("0 * * * *");
    let created = client.bi().create(config).await?;
    println!("created {} {}", created.id(), created.name().unwrap_or("-"));

    let (start, end) = (Utc::now() - Duration::days(7), Utc::now());
    let mut records = client.audit_logs().between(start, end).records()?;
    let mut streamed = Vec::new();
    while let Some(record) = records.next().await {
        let record = record?;
        if streamed.len() < 3 {
            println!("{} {}", record.event_uuid, record.url);
        }
        streamed.push(record.event_uuid);
    }
    println!("{} audit-log records", streamed.len());
    // The same, with the combinators of the re-exported StreamExt.
    let streamed_again = client
        .audit_logs()
        .between(start, end)
        .records()?
        .map_ok(|record| record.event_uuid)
        .try_collect::<Vec<_>>()
        .await?;
    let _ = StreamExt::boxed(client.audit_logs().between(start, end).records()?);

    Ok(Seen {
        created_id: created.id(),
        created_name: created.name().unwrap_or_default().to_owned(),
        streamed,
        streamed_again,
    })
}

#[tokio::main]
async fn main() -> Result<(), datafold_sdk::Error> {
    let server = datafold_sdk::mock::MockServer::start().expect("the mock starts");
    let seen = run(&server.client()?).await?;
    println!(
        "created #{} {:?}; streamed {} records, then {}",
        seen.created_id,
        seen.created_name,
        seen.streamed.len(),
        seen.streamed_again.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_user_streams_audit_logs_and_names_a_dbt_integration() {
        let server = datafold_sdk::mock::MockServer::builder()
            .seed_events(250)
            .seed_window(
                Utc::now() - Duration::hours(1),
                std::time::Duration::from_secs(3 * 86_400),
            )
            .start()
            .unwrap();
        let seen = run(&server.client().unwrap()).await.unwrap();

        // Every seeded record, plus the audit events of the program's own calls.
        let mut expected: Vec<String> = server
            .seeded_audit_events(None, None)
            .into_iter()
            .chain(server.recorded_audit_events())
            .map(|record| record.event_uuid)
            .collect();
        expected.sort();
        let mut streamed = seen.streamed.clone();
        streamed.sort();
        assert_eq!(streamed.len(), 251, "the seeded 250 and the create's event");
        assert_eq!(streamed, expected);
        assert_eq!(seen.streamed_again, seen.streamed);
        assert_eq!(seen.created_name, "dbt");
        let stored = server.stored_integrations();
        assert_eq!(stored[&seen.created_id]["name"], "dbt", "{stored:?}");
        assert_eq!(stored[&seen.created_id]["indexing_cron"], "0 * * * *");
    }
}
