//! `--from-file`: a configuration in YAML or JSON, read within limits, so a
//! broken or hostile file costs at most a few MiB and a fraction of a second:
//! the file at most [`MAX_FILE_BYTES`] (1 MiB), and the document within the
//! SDK's limits for such files (`datafold_sdk::bi::bounded`: 64 levels of
//! nesting, 4 MiB as built, so YAML aliases cannot blow a small file up, and
//! a bound on YAML flow collections, checked before the parser runs), the
//! same as for a `bi plan|apply` file.

use std::io::Read;
use std::path::Path;

use datafold_sdk::bi::bounded;
use serde_json::{Map, Value};

use crate::{CliError, CliResult};

/// The largest configuration file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The mapping of fields in the YAML (or, for `.json`, JSON) file at `path`.
pub fn read(path: &Path) -> CliResult<Map<String, Value>> {
    let shown = path.display();
    let text = read_capped(path)?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if is_json {
        let mut json = serde_json::Deserializer::from_str(&text);
        bounded::read(&mut json)
            .and_then(|value| json.end().map(|()| value))
            .map_err(|e| (e.to_string(), "JSON"))
    } else {
        bounded::check_flow_collections(&text)
            .map_err(|e| CliError::input(format!("{shown}: {e}")))?;
        bounded::read(serde_yaml_ng::Deserializer::from_str(&text))
            .map_err(|e| (e.to_string(), "YAML"))
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::input(format!(
            "{shown}: the configuration must be a mapping of fields"
        ))),
        Err((error, format)) => Err(CliError::input(format!(
            "{shown}: not valid {format}: {error}"
        ))),
    }
}

/// The file's text, refused beyond [`MAX_FILE_BYTES`] (whatever the file
/// is: a device or a pipe is read only that far).
fn read_capped(path: &Path) -> CliResult<String> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::input(format!("cannot read {shown}: {e}")))?;
    read_text(file, MAX_FILE_BYTES).map_err(|e| match e {
        TextError::Read(e) => CliError::input(format!("cannot read {shown}: {e}")),
        TextError::TooLong => CliError::input(format!(
            "{shown} is larger than 1 MiB, the limit for a configuration file"
        )),
        TextError::NotUtf8 => CliError::input(format!("{shown} is not UTF-8 text")),
    })
}

/// Why [`read_text`] failed.
pub enum TextError {
    /// Reading failed.
    Read(std::io::Error),
    /// There was more than the cap.
    TooLong,
    /// The bytes are not UTF-8.
    NotUtf8,
}

/// At most `cap` bytes of UTF-8 text from `source` (a file, a pipe, stdin):
/// what the CLI reads from the user, never more than it can use.
pub fn read_text(source: impl Read, cap: u64) -> Result<String, TextError> {
    let mut bytes = Vec::new();
    source
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(TextError::Read)?;
    if bytes.len() as u64 > cap {
        return Err(TextError::TooLong);
    }
    String::from_utf8(bytes).map_err(|_| TextError::NotUtf8)
}
