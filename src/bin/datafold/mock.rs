//! `datafold mock serve`: the standalone mock server, with the flags of
//! `datafold-mock` (one definition, shared with it).

use clap::Subcommand;

// Shared with the `datafold-mock` binary, which compiles the same file.
#[path = "../datafold-mock/flags.rs"]
mod flags;

use flags::{MockFlags, NotServed};

use crate::{CliError, CliResult, Global};

#[derive(Subcommand, Debug)]
pub enum MockCommand {
    /// Serve an in-memory Datafold API on 127.0.0.1 until killed
    Serve(MockFlags),
}

pub fn run(command: MockCommand, global: &Global) -> CliResult {
    let MockCommand::Serve(flags) = command;
    match flags.serve(global.quiet) {
        Ok(never) => match never {},
        Err(NotServed::Usage(message)) => Err(CliError::usage(message)),
        Err(NotServed::CannotStart(e)) => Err(CliError::other(format!(
            "cannot start the mock server: {e}"
        ))),
    }
}
