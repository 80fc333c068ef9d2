//! The client generated from `openapi/datafold.yaml` by build.rs (progenitor).
//!
//! This is the one place generated code enters the crate. It is written to
//! `$OUT_DIR` on every build and never committed; to change it, change the spec.
//! Each operation is a builder method on [`Client`], e.g.
//! `client.api().get_integration().bi_datasource_id(7).send()`; its errors are
//! progenitor's, which [`crate::Error::from_api`] turns into this crate's
//! [`Error`](crate::Error).

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    unused_imports,
    unused_mut
)]

include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
