//! Reads a rendered page: the text a browser shows for a Mintlify API reference
//! page, with no YAML. It carries less than the other formats:
//!
//! * method and path, from the heading where they are split over lines
//!   (`GET` `/` `api` `/` `v1` ...), checked against the curl example's
//!   `--request` and `--url` when present;
//! * request-body field names and JSON types, inferred from curl's `--data` JSON;
//! * the response status codes listed under "Response", and the names and
//!   JSON types of the response example (attributed to the first listed status).
//!
//! Formats, required, nullable, defaults, enums, parameters, operationId and
//! tags are not visible, so they are not compared ([`Depth::Examples`]).

use serde_json::Value;

use super::model::{Body, Carried, Depth, Kind, ObjectShape, OpKey, Operation, Response, Schema};
use super::schema::json_type;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Reads the page's operation; `Err` says why the text is not a rendered page.
pub fn operation(text: &str) -> Result<Operation, String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let heading = heading(&lines);
    let curl = curl(text);
    let key = match (heading, &curl) {
        (Some(heading), Some(curl)) => {
            if let (Some(method), Some(path)) = (&curl.method, &curl.path) {
                let from_curl = OpKey::new(method, path);
                if from_curl != heading {
                    return Err(format!(
                        "the heading shows `{heading}` but the curl example sends `{from_curl}`"
                    ));
                }
            }
            heading
        }
        (Some(heading), None) => heading,
        (
            None,
            Some(Curl {
                method: Some(method),
                path: Some(path),
                ..
            }),
        ) => OpKey::new(method, path),
        _ => {
            return Err(
                "no method and path (neither a split-over-lines heading nor a curl example)"
                    .to_string(),
            )
        }
    };

    let mut operation = Operation::empty(key);
    operation.carried = Carried {
        identity: false,
        parameters: Depth::Absent,
        body: Depth::Absent,
        responses: Depth::Absent,
    };
    if let Some(data) = curl.as_ref().and_then(|c| c.data.as_ref()) {
        operation.carried.body = Depth::Examples;
        operation.body = Some(Body {
            media_type: "application/json".to_string(),
            required: false,
            schema: infer(data),
        });
    }

    let mut statuses = listed_statuses(&lines);
    let example = curl.as_ref().and_then(|c| response_example(&text[c.end..]));
    if let Some(example) = example {
        if statuses.is_empty() {
            statuses.push("200".to_string());
        }
        operation.responses.insert(
            statuses[0].clone(),
            Response {
                schema: Some(infer(&example)),
            },
        );
    }
    for status in statuses {
        operation
            .responses
            .entry(status)
            .or_insert(Response { schema: None });
    }
    if !operation.responses.is_empty() {
        operation.carried.responses = Depth::Examples;
    }
    Ok(operation)
}

/// Finds `METHOD` followed by the path split over lines: `/`, `api`, `/`, `v1`, ...
fn heading(lines: &[&str]) -> Option<OpKey> {
    for (index, line) in lines.iter().enumerate() {
        if !METHODS.contains(line) || lines.get(index + 1) != Some(&"/") {
            continue;
        }
        let mut path = String::new();
        let mut expect_slash = true;
        for part in &lines[index + 1..] {
            if expect_slash && *part == "/" {
                path.push('/');
            } else if !expect_slash && is_segment(part) {
                path.push_str(part);
            } else {
                break;
            }
            expect_slash = !expect_slash;
        }
        return Some(OpKey::new(line, &path));
    }
    None
}

fn is_segment(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.{}~".contains(c))
}

/// What the first curl example says.
struct Curl {
    method: Option<String>,
    path: Option<String>,
    data: Option<Value>,
    /// Byte offset in the page where the example ends.
    end: usize,
}

fn curl(text: &str) -> Option<Curl> {
    let start = text.find("curl ")?;
    let rest = &text[start..];
    // The command runs while lines end in a backslash.
    let mut command_len = 0;
    for line in rest.split_inclusive('\n') {
        command_len += line.len();
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    let mut command = &rest[..command_len];
    let mut data = None;
    if let Some(at) = command
        .find("--data '")
        .or_else(|| command.find("--data-raw '"))
    {
        let open = at + command[at..].find('\'')? + 1;
        let close = open + rest[open..].find('\'')?;
        data = serde_json::from_str(&rest[open..close]).ok();
        command_len = close + 1;
        command = &rest[..command_len];
    }
    let word_after = |flag: &str| {
        let at = command.find(flag)? + flag.len();
        command[at..].split_whitespace().next().map(str::to_string)
    };
    let path = word_after("--url ").map(|url| match url.find("://") {
        Some(scheme_end) => {
            let after_host = &url[scheme_end + 3..];
            after_host
                .find('/')
                .map_or("/".to_string(), |i| after_host[i..].to_string())
        }
        None => url,
    });
    Some(Curl {
        method: word_after("--request "),
        path: path.map(|p| p.split('?').next().unwrap_or_default().to_string()),
        data,
        end: start + command_len,
    })
}

/// Status codes listed after a "Response" line.
fn listed_statuses(lines: &[&str]) -> Vec<String> {
    let mut statuses = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if *line != "Response" && *line != "Responses" {
            continue;
        }
        for next in &lines[index + 1..] {
            if next.len() == 3 && next.chars().all(|c| c.is_ascii_digit()) {
                if !statuses.iter().any(|s| s == next) {
                    statuses.push(next.to_string());
                }
            } else {
                break;
            }
        }
    }
    statuses
}

/// The first JSON object or array after the curl example: the response example.
fn response_example(text: &str) -> Option<Value> {
    let start = text.find(['{', '['])?;
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// The schema an example value implies: names and JSON types only.
fn infer(value: &Value) -> Schema {
    match value {
        Value::Null => Schema::of(Kind::Unknown),
        Value::Array(items) => Schema::of(Kind::Array(Box::new(
            items.first().map_or(Schema::of(Kind::Unknown), infer),
        ))),
        Value::Object(map) => Schema::of(Kind::Object(ObjectShape {
            properties: map.iter().map(|(k, v)| (k.clone(), infer(v))).collect(),
            required: Default::default(),
        })),
        scalar => Schema::of(Kind::Scalar(json_type(scalar).to_string())),
    }
}
