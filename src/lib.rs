//! Typed Rust client for Datafold's audit-log and BI-integration REST API.
//!
//! TODO crate docs
#![warn(missing_docs)]

pub mod audit;
pub mod bi;
mod client;
mod error;
pub mod generated;
#[cfg(feature = "mock")]
pub mod mock;
mod secret;

pub use client::{
    Client, ClientBuilder, Hooks, API_KEY_FALLBACK_VAR, API_KEY_VAR, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_HOST, DEFAULT_TIMEOUT, HOST_VAR, USER_AGENT,
};
pub use error::{Error, HttpFailure, Result, ValidationIssue};
pub use generated::types;
pub use secret::{Secret, REDACTED};
