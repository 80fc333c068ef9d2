//! [`AsCodeError`]: why a desired-state file, a plan or an apply failed, in
//! the terms of the file (its lines and fields), never quoting a secret.

use std::fmt;

/// One thing wrong in a desired-state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line (from 1) it is on, when the parser could tell.
    pub line: Option<usize>,
    /// The entry it is in: its name, `id N`, or `entry N` (from 1).
    pub entry: Option<String>,
    /// The field it is about.
    pub field: Option<String>,
    /// What is wrong and what to do; never holds a secret's value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, "{entry}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a desired-state file could not be read, planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum AsCodeError {
    /// The file is not a valid desired state; every problem found is listed.
    #[error("{}", list(.source_name, .problems))]
    Invalid {
        /// The file's path or another name of the text.
        source_name: String,
        /// What is wrong, in file order.
        problems: Vec<Problem>,
    },
    /// The file and the server disagree in a way no plan can settle (a
    /// pinned id that does not exist, two integrations of the same name).
    #[error("{0}")]
    Conflict(String),
    /// A secret reference could not be resolved (a variable not set, a
    /// file that cannot be read).
    #[error("{0}")]
    Secret(String),
    /// The state file cannot be read or written, or belongs to another
    /// host or file.
    #[error("{0}")]
    State(String),
    /// A saved plan cannot be read, or no longer matches the file or the
    /// server (nothing was changed).
    #[error("{0}")]
    SavedPlan(String),
    /// The plan holds replaces and they were not allowed.
    #[error("{0}")]
    ReplaceNotAllowed(String),
    /// A call to the API failed.
    #[error(transparent)]
    Api(#[from] crate::Error),
}

fn list(source: &str, problems: &[Problem]) -> String {
    let mut text = format!("{source} is not a valid BI integrations file:");
    for problem in problems {
        text.push_str("\n  ");
        text.push_str(&problem.to_string());
    }
    text
}
