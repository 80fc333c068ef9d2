//! A tour of the SDK: BI integrations and audit logs.
//!
//! ```text
//! cargo run --example quickstart              # no key set: against an embedded mock
//! DATAFOLD_API_KEY=... cargo run --example quickstart           # real host, read-only
//! DATAFOLD_API_KEY=... cargo run --example quickstart -- --write  # real host, full tour
//! ```
//!
//! Without `DATAFOLD_API_KEY` (or `DATAFOLD_APIKEY`) it starts
//! `datafold_sdk::mock::MockServer` on 127.0.0.1 and walks through every
//! call: create a Looker and a Tableau integration, list, get, update, sync,
//! read the last hour of audit logs, remove. With a key it talks to
//! `DATAFOLD_HOST` (default https://app.datafold.com) and only reads, unless
//! `--write` is given. Exits 1 with the error's explanation on failure.

use std::error::Error as StdError;
use std::process::ExitCode;

use datafold_sdk::chrono::{Duration, Utc};
use datafold_sdk::mock::MockServer;
use datafold_sdk::types::{LookerDataSourceConfig, TableauDataSourceConfig};
use datafold_sdk::{Client, API_KEY_FALLBACK_VAR, API_KEY_VAR};

type Outcome = Result<(), Box<dyn StdError>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let write = std::env::args().skip(1).any(|a| a == "--write");
    match run(write).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(write: bool) -> Outcome {
    let has_key = [API_KEY_VAR, API_KEY_FALLBACK_VAR]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if !has_key {
        println!("No {API_KEY_VAR} set: starting the embedded mock server.");
        let server = MockServer::start()?;
        println!("Mock Datafold API at {}\n", server.url());
        let client = server.client()?;
        tour(&client).await?;
        let answered = server.request_counts().total;
        println!("\nThe mock answered {answered} requests; done.");
        return Ok(());
    }
    let client = Client::from_env()?;
    println!("Using Datafold at {}\n", client.host());
    if write {
        tour(&client).await
    } else {
        read_only(&client).await?;
        println!(
            "\nRead-only run; pass --write to create, update, sync and remove test integrations."
        );
        Ok(())
    }
}

/// List integrations and the last day of audit logs.
async fn read_only(client: &Client) -> Outcome {
    let integrations = client.bi().list().await?;
    println!("1. {} BI integration(s):", integrations.len());
    for integration in &integrations {
        println!("   {}", describe(integration));
    }
    let since = Utc::now() - Duration::hours(24);
    let logs = client.audit_logs().list().start(since).send().await?;
    println!("2. {} audit-log record(s) in the last 24 hours", logs.len());
    for log in logs.iter().rev().take(10) {
        println!("   {}", describe_log(log));
    }
    Ok(())
}

/// Every BI call, then the audit events they produced.
async fn tour(client: &Client) -> Outcome {
    let started = Utc::now() - Duration::seconds(1);

    let looker = LookerDataSourceConfig::builder()
        .name("Quickstart Looker")
        .base_url("https://looker.example.com")
        .client_id("quickstart-client")
        .client_secret("looker-client-secret")
        .repo_id(1);
    let looker = client.bi().create(looker).await?;
    let looker_id = looker.id();
    println!("1. Created {}", describe(&looker));

    let tableau = tableau_config("0 3 * * *");
    let tableau = client.bi().create(tableau).await?;
    let tableau_id = tableau.id();
    println!("2. Created {}", describe(&tableau));

    let all = client.bi().list().await?;
    println!("3. Listed {} integration(s):", all.len());
    for integration in &all {
        println!("   {}", describe(integration));
    }

    let fetched = client.bi().get(looker_id).await?;
    println!("4. Fetched #{looker_id}: {}", describe(&fetched));
    let leaked = ["client_secret", "token_value"]
        .iter()
        .any(|field| fetched.get(field).is_some());
    println!(
        "   secrets in the response: {}",
        if leaked { "YES (bug)" } else { "none" }
    );

    let updated = client
        .bi()
        .update(tableau_id, tableau_config("0 */6 * * *"))
        .await?;
    println!("5. Updated {}", describe(&updated));

    client.bi().sync(looker_id).await?;
    println!("6. Started a sync of #{looker_id}");

    let logs = client
        .audit_logs()
        .list()
        .start(Utc::now() - Duration::hours(1))
        .send()
        .await?;
    let ours: Vec<_> = logs.iter().filter(|log| log.timestamp >= started).collect();
    println!(
        "7. Audit logs of the last hour: {} record(s), {} from this run:",
        logs.len(),
        ours.len()
    );
    for log in &ours {
        println!("   {}", describe_log(log));
    }

    for id in [looker_id, tableau_id] {
        client.bi().remove(id).await?;
    }
    println!("8. Removed #{looker_id} and #{tableau_id}");
    let left = client.bi().list().await?;
    println!("   {} integration(s) left", left.len());
    Ok(())
}

fn tableau_config(cron: &str) -> datafold_sdk::types::builder::TableauDataSourceConfig {
    TableauDataSourceConfig::builder()
        .name("Quickstart Tableau")
        .indexing_cron(cron)
        .server_url("https://tableau.example.com")
        .site_id("analytics")
        .token_name("quickstart")
        .token_value("tableau-personal-access-token")
}

fn describe(integration: &datafold_sdk::bi::Integration) -> String {
    format!(
        "#{} {} {:?} (schedule: {})",
        integration.id(),
        integration.type_name().unwrap_or("?"),
        integration.name().unwrap_or("unnamed"),
        integration.indexing_cron().unwrap_or("default"),
    )
}

fn describe_log(log: &datafold_sdk::types::AuditLog) -> String {
    format!(
        "{} {} {} #{} by {}",
        log.timestamp,
        log.action.as_deref().unwrap_or("-"),
        log.object_type.as_deref().unwrap_or("-"),
        log.object_id.map_or("-".to_owned(), |id| id.to_string()),
        log.user_email.as_deref().unwrap_or("-"),
    )
}
