//! An embedded, stateful Datafold mock server (feature `mock`).
//!
//! Placeholder: the server lands with the mock-server work.
