//! From a raw request to a validated [`Call`]: routing by the spec's paths,
//! FastAPI's slash redirects, authentication, and 422s for bad path ids and
//! bodies, in the order a FastAPI service applies them:
//!
//! 1. route (Starlette): a path that matches no template but would with the
//!    trailing slash toggled gets a `307` to that form; a path that matches
//!    with another method gets `405`; anything else `404 {"detail":"Not Found"}`;
//! 2. the JSON body is decoded before any dependency runs, so malformed JSON is
//!    a `422` (`json_invalid`) even without a valid key;
//! 3. authentication (a dependency): no `Authorization: Key <key>` header is
//!    `401`, an unknown key `403`;
//! 4. path parameters, then the body, validated against the spec: every issue
//!    in one `422`.

use serde_json::{json, Value};

use super::handlers::{Call, User};
use super::schema::{Operation, Spec};
use crate::Secret;

/// Where a request path leads.
enum Routed<'s> {
    Found(&'s Operation, Vec<(String, String)>),
    MethodNotAllowed(Vec<String>),
    Redirect(String),
    NotFound,
}

/// What the router makes of a request: a call for a handler, or an answer of
/// its own (with the operation, when one matched).
pub(crate) enum Outcome<'s> {
    Call(Call<'s>),
    Answer(Option<&'s str>, u16, Value, Vec<(&'static str, String)>),
}

/// The parts of a request the router needs.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) authorization: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) body: &'a [u8],
    pub(crate) client_ip: String,
    pub(crate) user_agent: Option<String>,
}

/// Route, authenticate and validate one request.
pub(crate) fn route<'s>(
    spec: &'s Spec,
    keys: &[(Secret, User)],
    req: &Incoming<'_>,
) -> Outcome<'s> {
    let (op, params) = match find(spec, req.method, req.path) {
        Routed::Found(op, params) => (op, params),
        Routed::MethodNotAllowed(allowed) => {
            let headers = vec![("allow", allowed.join(", "))];
            return Outcome::Answer(None, 405, json!({"detail": "Method Not Allowed"}), headers);
        }
        Routed::Redirect(to) => {
            let host = req.host.unwrap_or("127.0.0.1");
            let query = req.query.map(|q| format!("?{q}")).unwrap_or_default();
            let location = format!("http://{host}{to}{query}");
            return Outcome::Answer(None, 307, Value::Null, vec![("location", location)]);
        }
        Routed::NotFound => {
            return Outcome::Answer(None, 404, json!({"detail": "Not Found"}), Vec::new())
        }
    };
    let id = Some(op.operation_id.as_str());
    let fail = |status: u16, body: Value| Outcome::Answer(id, status, body, Vec::new());

    let body = match decode_body(req.body) {
        Ok(body) => body,
        Err(detail) => return fail(422, json!({ "detail": [detail] })),
    };
    let user = match authenticate(keys, req.authorization) {
        Ok(user) => user,
        Err((401, detail)) => {
            let headers = vec![("www-authenticate", "Key".to_owned())];
            return Outcome::Answer(id, 401, json!({ "detail": detail }), headers);
        }
        Err((status, detail)) => return fail(status, json!({ "detail": detail })),
    };

    let mut issues = Vec::new();
    let mut bi_id = None;
    for (name, raw) in &params {
        if !op.integer_params.contains(name) {
            continue;
        }
        match raw.parse::<i64>() {
            Ok(n) => bi_id = Some(n),
            Err(_) => issues.push(json!({
                "loc": ["path", name],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            })),
        }
    }
    let body = match (&op.body_schema, body) {
        (None, _) => None,
        (Some(_), None | Some(Value::Null)) if op.body_required => {
            issues.push(json!({"loc": ["body"], "msg": "Field required", "type": "missing"}));
            None
        }
        (Some(_), None | Some(Value::Null)) => None,
        (Some(schema), Some(value)) => {
            issues.extend(
                spec.validate(schema, &value)
                    .iter()
                    .map(|i| i.to_detail("body")),
            );
            Some(value)
        }
    };
    if !issues.is_empty() {
        return fail(422, json!({ "detail": issues }));
    }
    Outcome::Call(Call {
        operation_id: &op.operation_id,
        kind: kind_segment(&op.path),
        body_schema: op.body_schema.as_deref(),
        id: bi_id,
        body,
        user,
        url: format!("http://{}{}", req.host.unwrap_or("127.0.0.1"), req.path),
        client_ip: req.client_ip.clone(),
        user_agent: req.user_agent.clone(),
    })
}

/// The operation a method and path lead to, like Starlette's router.
fn find<'s>(spec: &'s Spec, method: &str, path: &str) -> Routed<'s> {
    let mut allowed = Vec::new();
    let mut best: Option<(&Operation, Vec<(String, String)>)> = None;
    for op in spec.operations() {
        let Some(params) = match_template(&op.path, path) else {
            continue;
        };
        if op.method != method {
            allowed.push(op.method.clone());
            continue;
        }
        // A literal segment beats a parameter (`/bi/looker/` is not id "looker"
        // for a POST); FastAPI gets the same through declaration order.
        if best.as_ref().is_none_or(|(_, p)| params.len() < p.len()) {
            best = Some((op, params));
        }
    }
    if let Some((op, params)) = best {
        return Routed::Found(op, params);
    }
    if !allowed.is_empty() {
        return Routed::MethodNotAllowed(allowed);
    }
    let toggled = match path.strip_suffix('/') {
        Some(bare) if !bare.is_empty() => bare.to_owned(),
        Some(_) => return Routed::NotFound,
        None => format!("{path}/"),
    };
    if spec
        .operations()
        .iter()
        .any(|op| match_template(&op.path, &toggled).is_some())
    {
        return Routed::Redirect(toggled);
    }
    Routed::NotFound
}

/// The path parameters of `path` under `template`, or `None` if it does not
/// match. A parameter matches one non-empty segment.
fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ts, ps) in t.iter().zip(&p) {
        match ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !ps.is_empty() => params.push((name.to_owned(), (*ps).to_owned())),
            Some(_) => return None,
            None if ts == ps => {}
            None => return None,
        }
    }
    Some(params)
}

/// `looker` for `/api/v1/lineage/bi/looker/` and its PUT path.
fn kind_segment(template: &str) -> Option<&str> {
    let rest = template.strip_prefix("/api/v1/lineage/bi/")?;
    let segment = rest.split('/').next()?;
    (!segment.is_empty() && !segment.starts_with('{')).then_some(segment)
}

/// The body as JSON (`None` when empty), or FastAPI's `json_invalid` item.
fn decode_body(body: &[u8]) -> Result<Option<Value>, Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        json!({
            "loc": ["body", char_offset(body, e.line(), e.column())],
            "msg": "JSON decode error",
            "type": "json_invalid",
            "ctx": {"error": e.to_string()},
        })
    })
}

/// The character position of a 1-based line and column (Python's
/// `JSONDecodeError.pos`, which FastAPI puts in `loc`).
fn char_offset(body: &[u8], line: usize, column: usize) -> usize {
    let text = String::from_utf8_lossy(body);
    let before: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum();
    before + column.saturating_sub(1)
}

/// The user behind `Authorization: Key <key>`, or the status and detail.
fn authenticate(
    keys: &[(Secret, User)],
    header: Option<&str>,
) -> Result<User, (u16, &'static str)> {
    let Some(header) = header else {
        return Err((401, "Not authenticated"));
    };
    let mut parts = header.trim().splitn(2, ' ');
    let (scheme, key) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default().trim(),
    );
    if !scheme.eq_ignore_ascii_case("key") || key.is_empty() {
        return Err((
            401,
            "Invalid authentication scheme: send `Authorization: Key <api-key>`",
        ));
    }
    keys.iter()
        .find(|(k, _)| k.expose() == key)
        .map(|(_, user)| user.clone())
        .ok_or((403, "Invalid API key"))
}
