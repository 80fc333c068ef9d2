//! The flags of `bi create <kind>` and `bi update <kind> <ID>`, built at run
//! time from the fields of the kind's configuration ([`crate::bi_fields`]):
//! a flag per field, a repeated flag per list, and for every secret the
//! trio `--<field>-env VAR`, `--<field>-file PATH`, `--<field>-stdin` —
//! never a flag that takes the secret itself. `--from-file` reads the
//! whole configuration (within limits: see [`crate::config_file`]); flags
//! override it.

use std::convert::Infallible;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Command, FromArgMatches, Subcommand};
use datafold_sdk::bi::{BiKind, ConfigVisitor, KindConfig};
use serde_json::{json, Map, Value};

use crate::bi_fields::{self, flag_name, value_name, Field, Item, Scalar, Shape, SECRET_SOURCES};
use crate::secret_input::{self, SecretSource};
use crate::CliResult;

/// The flag every kind has besides its fields.
const FROM_FILE: &str = "from-file";
/// The argument of `bi update <kind> <ID>`.
const ID: &str = "id";

/// A configuration as the command line gave it: which kind, which
/// integration (for an update), the file and the flags. Secrets are not read
/// until [`ConfigFlags::body`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFlags {
    /// The kind named after `create` or `update`.
    pub kind: BiKind,
    /// The integration to update; `None` for a create.
    pub id: Option<i64>,
    /// The kind's fields.
    pub fields: Vec<Field>,
    from_file: Option<PathBuf>,
    /// Each field given by a flag, in the order of `fields`.
    given: Vec<(String, Given)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Given {
    Value(Value),
    Secret(SecretSource),
}

/// `bi create <kind>`: one subcommand per kind.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateKind(pub ConfigFlags);

/// `bi update <kind> <ID>` (one subcommand per kind), or `bi update <ID>`
/// followed by the flags of the integration's kind, which is read from the
/// server first ([`flags_for_update`] parses them then).
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateKind {
    /// `bi update <kind> <ID> [FLAGS]`.
    Kind(ConfigFlags),
    /// `bi update <ID> [FLAGS]`: the flags, not parsed yet.
    ById {
        /// The integration.
        id: i64,
        /// Everything after the id.
        args: Vec<std::ffi::OsString>,
    },
}

/// What `bi update --help` adds about the form without a kind.
const UPDATE_BY_ID_HELP: &str =
    "Or: datafold bi update <ID> [FLAGS] (global options before `bi`).\n\
The kind is read from the server; fields not given keep their current values.\n\
Secrets are never returned, so those the API requires must be given again.";

/// The flags `args` of `bi update <ID>` for an integration of `kind`.
pub fn flags_for_update(
    kind: BiKind,
    id: i64,
    args: &[std::ffi::OsString],
) -> Result<ConfigFlags, clap::Error> {
    let fields = kind_fields(kind);
    let command = kind_command(kind, &fields, true).no_binary_name(true);
    let command = <crate::Global as clap::Args>::augment_args(command);
    let mut all = vec![std::ffi::OsString::from(id.to_string())];
    all.extend(args.iter().cloned());
    let matches = command.try_get_matches_from(all)?;
    Ok(ConfigFlags::from_matches(kind, fields, &matches))
}

/// The JSON Schema of `kind`'s configuration, as `bi schema` prints it.
pub fn schema(kind: BiKind) -> schemars::schema::RootSchema {
    struct SchemaOf;
    impl ConfigVisitor for SchemaOf {
        type Output = schemars::schema::RootSchema;
        fn visit<C: KindConfig>(self) -> Self::Output {
            schemars::schema_for!(C)
        }
    }
    kind.visit_config(SchemaOf)
}

/// The fields of `kind`'s configuration, with flags that clash with none of
/// the command line's others.
pub fn kind_fields(kind: BiKind) -> Vec<Field> {
    // A RootSchema always serializes; `Null` would only mean "no fields".
    let schema = serde_json::to_value(schema(kind)).unwrap_or_default();
    fields_of(&schema, &schema)
}

/// The fields of the configuration `schema` (see [`bi_fields::fields`]),
/// their flags clear of the command line's others.
pub fn fields_of(schema: &Value, root: &Value) -> Vec<Field> {
    let global = <crate::Global as clap::Args>::augment_args(Command::new("global"));
    let mut taken: Vec<&str> = global.get_arguments().filter_map(Arg::get_long).collect();
    taken.extend([FROM_FILE, "help", ID]);
    bi_fields::fields(schema, root, &taken)
}

/// The subcommand of `kind` with its flags (and the `<ID>` argument when
/// `with_id`).
pub fn kind_command(kind: BiKind, fields: &[Field], with_id: bool) -> Command {
    let mut command = Command::new(kind.as_str()).about(kind.display_name());
    if with_id {
        command = command.arg(
            Arg::new(ID)
                .value_name("ID")
                .required(true)
                .value_parser(clap::value_parser!(i64))
                .help("The integration's id"),
        );
    }
    for field in fields {
        let Some(flag) = field.flag.as_deref() else {
            continue;
        };
        let heading = if field.required {
            "Required fields (flags or --from-file)"
        } else {
            "Optional fields"
        };
        command = match &field.shape {
            Shape::Secret => secret_args(command, field, flag, heading),
            shape => command.arg(value_arg(field, flag, shape).help_heading(heading)),
        };
    }
    command.arg(
        Arg::new(FROM_FILE)
            .long(FROM_FILE)
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help(
                "Read the configuration from a YAML or JSON file (at most 1 MiB, 64 levels \
                 deep); flags override it",
            ),
    )
}

/// The flag of a field that is not a secret; its value parses to JSON. Its
/// help names the field as `--from-file` and `bi schema` spell it, and
/// what it takes, then the spec's description, if any.
fn value_arg(field: &Field, flag: &str, shape: &Shape) -> Arg {
    let arg = Arg::new(field.name.clone())
        .long(flag.to_owned())
        .value_name(value_name(flag));
    let (arg, takes) = match shape {
        Shape::Scalar(scalar) => (scalar_arg(arg, scalar), type_name(scalar, false)),
        Shape::List(Item::Scalar(scalar)) => (
            scalar_arg(arg, scalar).action(ArgAction::Append),
            format!("{} (repeatable)", type_name(scalar, true)),
        ),
        Shape::List(Item::Keyed { key, list, item }) => {
            let key_name = value_name(&flag_name(key, false));
            let item_name = value_name(&flag_name(list, true));
            let form = format!("{key_name}={item_name},{item_name}…");
            let takes = format!("{form} (repeatable)");
            let (key, list, item) = (key.clone(), list.clone(), item.clone());
            let arg = arg
                .action(ArgAction::Append)
                .value_parser(move |text: &str| parse_keyed(text, &form, &key, &list, &item));
            (arg, takes)
        }
        Shape::List(Item::Json) => (
            arg.action(ArgAction::Append).value_parser(parse_json),
            "JSON (repeatable)".to_owned(),
        ),
        Shape::Json | Shape::Secret => (arg.value_parser(parse_json), "JSON".to_owned()),
    };
    let mut help = format!("{}: {takes}", field.name);
    if let Some(description) = &field.description {
        help = format!("{help}. {description}");
    }
    arg.help(help.trim_end_matches([':', ' ']).to_owned())
}

/// What a scalar flag takes, for its help; a choice's values are listed by
/// clap.
fn type_name(scalar: &Scalar, plural: bool) -> String {
    let name = match scalar {
        Scalar::Text => "string",
        Scalar::Integer => "integer",
        Scalar::Number => "number",
        Scalar::Boolean => return "true or false".to_owned(),
        Scalar::Choice(_) => return String::new(),
    };
    if plural {
        format!("{name}s")
    } else {
        name.to_owned()
    }
}

fn scalar_arg(arg: Arg, scalar: &Scalar) -> Arg {
    match scalar {
        Scalar::Text => arg.value_parser(|s: &str| Ok::<_, Infallible>(Value::from(s))),
        Scalar::Integer => arg.value_parser(|s: &str| s.parse::<i64>().map(Value::from)),
        Scalar::Number => arg.value_parser(|s: &str| {
            Scalar::Number
                .parse(s)
                .ok_or_else(|| format!("{s:?} is not a finite number"))
        }),
        Scalar::Boolean => arg.value_parser(
            PossibleValuesParser::new(["true", "false"]).map(|s| Value::Bool(s == "true")),
        ),
        Scalar::Choice(choices) => {
            arg.value_parser(PossibleValuesParser::new(choices.clone()).map(Value::String))
        }
    }
}

/// `--<flag>-env VAR`, `--<flag>-file PATH`, `--<flag>-stdin`: at most one.
fn secret_args(command: Command, field: &Field, flag: &str, heading: &str) -> Command {
    let name = &field.name;
    let [env, file, stdin] = secret_ids(name);
    command
        .arg(
            Arg::new(env.clone())
                .long(format!("{flag}-env"))
                .value_name("VAR")
                .help(format!("Read {name} from this environment variable"))
                .help_heading(heading.to_owned()),
        )
        .arg(
            Arg::new(file.clone())
                .long(format!("{flag}-file"))
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help(format!("Read {name} from this file"))
                .help_heading(heading.to_owned()),
        )
        .arg(
            Arg::new(stdin.clone())
                .long(format!("{flag}-stdin"))
                .action(ArgAction::SetTrue)
                .help(format!("Read {name} from stdin"))
                .help_heading(heading.to_owned()),
        )
        .group(ArgGroup::new(name.clone()).args([env, file, stdin]))
}

/// The argument ids of a secret's three flags.
fn secret_ids(name: &str) -> [String; 3] {
    SECRET_SOURCES.map(|s| format!("{name}:{s}"))
}

/// `REMOTE_ID=1,2,3` → `{"remoteId": "REMOTE_ID", "boundIds": [1, 2, 3]}`;
/// `form` shows how to write it.
fn parse_keyed(
    text: &str,
    form: &str,
    key: &str,
    list: &str,
    item: &Scalar,
) -> Result<Value, String> {
    let (remote, items) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write it as {form}"))?;
    let items = items
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            let value = item.parse(part);
            value.ok_or_else(|| match item {
                Scalar::Integer => format!("{text:?}: {part:?} is not an integer id"),
                _ => format!("{text:?}: {part:?} is not a valid item"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ key: remote, list: items }))
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

impl ConfigFlags {
    /// What the matches of `kind`'s subcommand, built from `fields`, say.
    fn from_matches(kind: BiKind, fields: Vec<Field>, matches: &ArgMatches) -> Self {
        let mut given = Vec::new();
        for field in fields.iter().filter(|f| f.flag.is_some()) {
            let value = match &field.shape {
                Shape::Secret => secret_source(matches, &field.name).map(Given::Secret),
                Shape::List(_) => matches
                    .try_get_many::<Value>(&field.name)
                    .ok()
                    .flatten()
                    .map(|values| Given::Value(Value::Array(values.cloned().collect()))),
                _ => one::<Value>(matches, &field.name).map(Given::Value),
            };
            if let Some(value) = value {
                given.push((field.name.clone(), value));
            }
        }
        Self {
            kind,
            id: one::<i64>(matches, ID),
            from_file: one::<PathBuf>(matches, FROM_FILE),
            fields,
            given,
        }
    }

    /// The request body: `--from-file`, then the flags on top, secrets read.
    /// A required list no one gave is empty.
    pub fn body(&self) -> CliResult<Map<String, Value>> {
        let mut body = match &self.from_file {
            Some(path) => {
                let body = crate::config_file::read(path)?;
                // Read within the same limits just now: the text gives lines.
                let text = std::fs::File::open(path)
                    .ok()
                    .and_then(|file| {
                        crate::config_file::read_text(file, crate::config_file::MAX_FILE_BYTES).ok()
                    })
                    .unwrap_or_default();
                bi_fields::check_file(self.kind.as_str(), &self.fields, &body, path, &text)?;
                body
            }
            None => Map::new(),
        };
        for (name, given) in &self.given {
            let value = match given {
                Given::Value(value) => value.clone(),
                Given::Secret(source) => {
                    let flag = self.flag_of(name);
                    Value::String(secret_input::read(name, flag, source)?)
                }
            };
            body.insert(name.clone(), value);
        }
        for field in &self.fields {
            if field.required && matches!(field.shape, Shape::List(_)) {
                body.entry(field.name.clone()).or_insert_with(|| json!([]));
            }
        }
        Ok(body)
    }

    fn flag_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.flag.as_deref())
            .unwrap_or(name)
    }
}

fn secret_source(matches: &ArgMatches, name: &str) -> Option<SecretSource> {
    let [env, file, stdin] = secret_ids(name);
    if let Some(var) = one::<String>(matches, &env) {
        return Some(SecretSource::Env(var));
    }
    if let Some(path) = one::<PathBuf>(matches, &file) {
        return Some(SecretSource::File(path));
    }
    one::<bool>(matches, &stdin)
        .unwrap_or(false)
        .then_some(SecretSource::Stdin)
}

/// The value of the argument `id`, if the command has it and it was given
/// (`create` has no `<ID>`: asking for it must not panic).
fn one<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Option<T> {
    matches.try_get_one::<T>(id).ok().flatten().cloned()
}

/// The kinds' subcommands under `command`.
fn with_kinds(mut command: Command, with_id: bool) -> Command {
    for kind in BiKind::ALL {
        command = command.subcommand(kind_command(kind, &kind_fields(kind), with_id));
    }
    command
}

/// The kind named by the subcommand in `matches`, and its flags.
fn config_flags(matches: &ArgMatches) -> Result<ConfigFlags, clap::Error> {
    let (name, sub) = matches.subcommand().ok_or_else(|| {
        clap::Error::raw(clap::error::ErrorKind::MissingSubcommand, "name a kind\n")
    })?;
    let kind = name.parse::<BiKind>().map_err(|e| {
        clap::Error::raw(clap::error::ErrorKind::InvalidSubcommand, format!("{e}\n"))
    })?;
    Ok(ConfigFlags::from_matches(kind, kind_fields(kind), sub))
}

macro_rules! kind_subcommand {
    ($ty:ident, $with_id:literal) => {
        impl FromArgMatches for $ty {
            fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
                config_flags(matches).map(Self)
            }

            fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
                *self = Self::from_arg_matches(matches)?;
                Ok(())
            }
        }

        impl Subcommand for $ty {
            fn augment_subcommands(command: Command) -> Command {
                with_kinds(command, $with_id)
            }

            fn augment_subcommands_for_update(command: Command) -> Command {
                with_kinds(command, $with_id)
            }

            fn has_subcommand(name: &str) -> bool {
                BiKind::ALL.iter().any(|kind| kind.as_str() == name)
            }
        }
    };
}

kind_subcommand!(CreateKind, false);

impl FromArgMatches for UpdateKind {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = matches.subcommand() else {
            return config_flags(matches).map(Self::Kind);
        };
        if name.parse::<BiKind>().is_ok() {
            return config_flags(matches).map(Self::Kind);
        }
        let id = name.parse::<i64>().map_err(|_| {
            let kinds = BiKind::ALL.map(BiKind::as_str).join(", ");
            clap::Error::raw(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("{name:?} is neither a kind ({kinds}) nor an integration id\n"),
            )
        })?;
        let args = sub
            .get_many::<std::ffi::OsString>("")
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Ok(Self::ById { id, args })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for UpdateKind {
    fn augment_subcommands(command: Command) -> Command {
        with_kinds(command, true)
            .allow_external_subcommands(true)
            .after_help(UPDATE_BY_ID_HELP)
    }

    fn augment_subcommands_for_update(command: Command) -> Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        BiKind::ALL.iter().any(|kind| kind.as_str() == name) || name.parse::<i64>().is_ok()
    }
}

#[cfg(test)]
#[path = "bi_flags_tests.rs"]
mod tests;
