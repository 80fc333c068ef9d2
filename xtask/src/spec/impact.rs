//! The comparison: every difference between two specs, classified by what it
//! does to code built on the generated client (see the rules in
//! [`super`]'s module docs).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::model::{
    field_type, replacement, rust_type, sanitize, strip_descriptive, type_path, Case, Operation,
    Spec, DESCRIPTIVE,
};

/// What a change does to consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Code using the generated client may stop compiling (or must set
    /// something it did not have to).
    Rust,
    /// The Rust API is unchanged, but a client built from one spec and a
    /// server following the other may disagree.
    Wire,
    /// Something new; code that compiled still compiles.
    Additive,
    /// Documentation only (doc comments change, code does not).
    NoEffect,
}

impl Class {
    /// The heading of the class in the report.
    pub fn heading(self) -> &'static str {
        match self {
            Class::Rust => "breaking for Rust callers",
            Class::Wire => "breaking on the wire only, Rust API unchanged",
            Class::Additive => "additive",
            Class::NoEffect => "no effect on the generated code (documentation only)",
        }
    }

    /// The class's name in `--format json`.
    pub fn key(self) -> &'static str {
        match self {
            Class::Rust => "breaking_rust",
            Class::Wire => "breaking_wire",
            Class::Additive => "additive",
            Class::NoEffect => "no_effect",
        }
    }
}

/// The Keep-a-Changelog section a change goes under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// `### Added`
    Added,
    /// `### Changed`
    Changed,
    /// `### Removed`
    Removed,
}

impl Section {
    /// The section's heading.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Added => "### Added",
            Section::Changed => "### Changed",
            Section::Removed => "### Removed",
        }
    }
}

/// One difference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// What it does to consumers.
    pub class: Class,
    /// Where in the spec, dotted: `paths./api/v1/x.get.parameters.page_size`.
    pub spec_path: String,
    /// The Rust item it affects: `Client::get_audit_logs().page_size()`.
    pub rust_item: String,
    /// What changed, in a few words.
    pub what: String,
    /// The changelog section.
    pub section: Section,
}

/// Where a schema comparison is: its spec path, its Rust item, and whether a
/// hand-written type stands in for the generated one.
#[derive(Clone, Debug)]
struct At {
    spec_path: String,
    rust_item: String,
    /// The hand-written type replacing the component (build.rs).
    replaced: Option<&'static str>,
}

impl At {
    /// A place under this one: `spec` is appended to the spec path, `rust` is
    /// the Rust item there.
    fn child(&self, spec: &str, rust: String) -> At {
        At {
            spec_path: format!("{}.{spec}", self.spec_path),
            rust_item: rust,
            replaced: self.replaced,
        }
    }
}

/// The comparison's state: both specs and what was found.
struct Diff<'a> {
    old: &'a Spec,
    new: &'a Spec,
    changes: Vec<Change>,
}

/// Every difference from `old` to `new`, sorted by class, then spec path.
pub fn compare(old: &Spec, new: &Spec) -> Vec<Change> {
    let mut diff = Diff {
        old,
        new,
        changes: Vec::new(),
    };
    diff.operations();
    diff.schemas();
    diff.changes.sort();
    diff.changes.dedup();
    diff.changes
}

impl Diff<'_> {
    /// Record a change; on a replaced schema a Rust-breaking change is
    /// wire-only, and the line says which hand-written type to check.
    fn push(&mut self, class: Class, section: Section, at: &At, what: impl Into<String>) {
        let mut what = what.into();
        let mut class = class;
        if let Some(hand_written) = at.replaced {
            // build.rs puts a hand-written type in place of the generated one:
            // the generated code does not change, the wire does.
            if class == Class::Rust {
                class = Class::Wire;
            }
            if class != Class::NoEffect {
                what.push_str(&format!(
                    " (the hand-written {hand_written} replaces the generated type: \
                     not regenerated, check that it follows)"
                ));
            }
        }
        self.changes.push(Change {
            class,
            spec_path: at.spec_path.clone(),
            rust_item: at.rust_item.clone(),
            what,
            section,
        });
    }

    /// Operations removed, renamed, added, and changed.
    fn operations(&mut self) {
        let (old, new) = (self.old, self.new);
        let mut renamed_to = BTreeSet::new();
        for (id, op) in &old.operations {
            let at = At {
                spec_path: op.spec_path(),
                rust_item: op.rust_item(),
                replaced: None,
            };
            match new.operations.get(id) {
                Some(new_op) => self.operation(op, new_op),
                None => {
                    // The same method and path under another operationId is a rename.
                    let successor = new.operations.values().find(|n| {
                        n.method == op.method
                            && n.path == op.path
                            && !old.operations.contains_key(&n.id)
                    });
                    match successor {
                        Some(n) => {
                            renamed_to.insert(n.id.clone());
                            self.push(
                                Class::Rust,
                                Section::Changed,
                                &At {
                                    spec_path: format!("{}.operationId", op.spec_path()),
                                    ..at
                                },
                                format!(
                                    "operation renamed (operationId `{id}` -> `{}`): use {}",
                                    n.id,
                                    n.rust_item()
                                ),
                            );
                            self.operation(op, n);
                        }
                        None => self.push(
                            Class::Rust,
                            Section::Removed,
                            &at,
                            format!(
                                "operation `{id}` ({} {}) removed",
                                op.method.to_uppercase(),
                                op.path
                            ),
                        ),
                    }
                }
            }
        }
        for (id, op) in &new.operations {
            if !old.operations.contains_key(id) && !renamed_to.contains(id) {
                let at = At {
                    spec_path: op.spec_path(),
                    rust_item: op.rust_item(),
                    replaced: None,
                };
                self.push(
                    Class::Additive,
                    Section::Added,
                    &at,
                    format!(
                        "new operation `{id}` ({} {})",
                        op.method.to_uppercase(),
                        op.path
                    ),
                );
            }
        }
    }

    /// One operation in both specs (`new` may carry another operationId).
    fn operation(&mut self, old: &Operation, new: &Operation) {
        let at = At {
            spec_path: new.spec_path(),
            rust_item: new.rust_item(),
            replaced: None,
        };
        if old.method != new.method || old.path != new.path {
            self.push(
                Class::Wire,
                Section::Changed,
                &At {
                    spec_path: old.spec_path(),
                    ..at.clone()
                },
                format!(
                    "now sent as {} {} (was {} {}); the method keeps its name",
                    new.method.to_uppercase(),
                    new.path,
                    old.method.to_uppercase(),
                    old.path
                ),
            );
        }
        for key in [
            "summary",
            "description",
            "tags",
            "deprecated",
            "externalDocs",
        ] {
            if old.value.get(key) != new.value.get(key) {
                let why = if key == "tags" {
                    "tags changed (TagStyle::Merged: one Client, so no Rust effect)".to_string()
                } else {
                    format!("{key} changed")
                };
                self.push(Class::NoEffect, Section::Changed, &at, why);
            }
        }
        self.parameters(old, new, &at);
        self.body(&old.value, &new.value, &at);
        self.responses(&old.value, &new.value, &at);
    }

    /// Parameters (builder methods) by name.
    fn parameters(&mut self, old: &Operation, new: &Operation, op: &At) {
        let names: BTreeSet<&String> = old.params.keys().chain(new.params.keys()).collect();
        for name in names {
            let method = sanitize(name, Case::Snake);
            let at = op.child(
                &format!("parameters.{name}"),
                format!("{}.{method}()", op.rust_item),
            );
            match (old.params.get(name), new.params.get(name)) {
                (Some(_), None) => self.push(
                    Class::Rust,
                    Section::Removed,
                    &at,
                    "parameter removed (its builder method is gone)",
                ),
                (None, Some(p)) if required(p) => self.push(
                    Class::Rust,
                    Section::Added,
                    &at,
                    "new required parameter (the request fails until it is set)",
                ),
                (None, Some(_)) => self.push(
                    Class::Additive,
                    Section::Added,
                    &at,
                    "new optional parameter",
                ),
                (Some(a), Some(b)) => {
                    if a.get("in") != b.get("in") {
                        self.push(
                            Class::Wire,
                            Section::Changed,
                            &at,
                            format!(
                                "now sent in the {} (was {})",
                                show(b.get("in")),
                                show(a.get("in"))
                            ),
                        );
                    }
                    match (required(a), required(b)) {
                        (false, true) => self.push(
                            Class::Rust,
                            Section::Changed,
                            &at,
                            "optional parameter became required (the builder must now set it)",
                        ),
                        (true, false) => self.push(
                            Class::Additive,
                            Section::Changed,
                            &at,
                            "required parameter became optional",
                        ),
                        _ => {}
                    }
                    if a.get("description") != b.get("description") {
                        self.push(
                            Class::NoEffect,
                            Section::Changed,
                            &at,
                            "description changed",
                        );
                    }
                    let null = Value::Null;
                    let (sa, sb) = (
                        a.get("schema").unwrap_or(&null),
                        b.get("schema").unwrap_or(&null),
                    );
                    self.schema(sa, sb, &at.child("schema", at.rust_item.clone()), false);
                }
                (None, None) => {}
            }
        }
    }

    /// The request body (`body()`, `body_map()`).
    fn body(&mut self, old: &Value, new: &Value, op: &At) {
        let at = op.child("requestBody", format!("{}.body()", op.rust_item));
        let (a, b) = (old.get("requestBody"), new.get("requestBody"));
        match (a, b) {
            (None, None) => {}
            (Some(_), None) => self.push(
                Class::Rust,
                Section::Removed,
                &at,
                "request body removed (body() is gone)",
            ),
            (None, Some(b)) if required(b) => self.push(
                Class::Rust,
                Section::Added,
                &at,
                "new required request body",
            ),
            (None, Some(_)) => self.push(
                Class::Additive,
                Section::Added,
                &at,
                "new optional request body",
            ),
            (Some(a), Some(b)) => {
                if required(a) != required(b) {
                    // progenitor takes `T` for a required body and `Option<T>`
                    // (without `body_map`) for an optional one.
                    let what = if required(b) {
                        "request body became required: body() takes T, not Option<T>"
                    } else {
                        "request body became optional: body() takes Option<T>, body_map() is gone"
                    };
                    self.push(Class::Rust, Section::Changed, &at, what);
                }
                if a.get("description") != b.get("description") {
                    self.push(
                        Class::NoEffect,
                        Section::Changed,
                        &at,
                        "description changed",
                    );
                }
                let (sa, sb) = (json_schema(a), json_schema(b));
                match (sa, sb) {
                    (Some(sa), Some(sb)) => self.schema(
                        sa,
                        sb,
                        &at.child("content.application/json.schema", at.rust_item.clone()),
                        false,
                    ),
                    (None, None) => {}
                    _ => self.push(
                        Class::Rust,
                        Section::Changed,
                        &at,
                        "JSON body added or removed",
                    ),
                }
            }
        }
    }

    /// Responses by status (`send()`'s success and error types).
    fn responses(&mut self, old: &Value, new: &Value, op: &At) {
        let empty = serde_json::Map::new();
        let a = old
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let b = new
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let statuses: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for status in statuses {
            let at = op.child(
                &format!("responses.{status}"),
                format!("{}.send()", op.rust_item),
            );
            match (a.get(status), b.get(status)) {
                (Some(_), None) => self.push(
                    Class::Wire,
                    Section::Removed,
                    &at,
                    format!("response {status} no longer documented"),
                ),
                (None, Some(_)) => self.push(
                    Class::Wire,
                    Section::Added,
                    &at,
                    format!("new response {status}"),
                ),
                (Some(ra), Some(rb)) => {
                    if ra.get("description") != rb.get("description") {
                        self.push(
                            Class::NoEffect,
                            Section::Changed,
                            &at,
                            "description changed",
                        );
                    }
                    match (json_schema(ra), json_schema(rb)) {
                        (Some(sa), Some(sb)) => self.schema(
                            sa,
                            sb,
                            &at.child("content.application/json.schema", at.rust_item.clone()),
                            false,
                        ),
                        (None, None) => {}
                        (sa, sb) => self.push(
                            Class::Rust,
                            Section::Changed,
                            &at,
                            format!(
                                "response {status} type changed: {} -> {}",
                                sa.map_or("ByteStream / ()".into(), |s| rust_type(self.old, s)),
                                sb.map_or("ByteStream / ()".into(), |s| rust_type(self.new, s)),
                            ),
                        ),
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// Component schemas removed, renamed, added, and changed.
    fn schemas(&mut self) {
        let (old, new) = (self.old, self.new);
        let mut renamed_to = BTreeSet::new();
        for (name, schema) in &old.schemas {
            let at = At {
                spec_path: format!("components.schemas.{name}"),
                rust_item: type_path(name),
                replaced: replacement(name),
            };
            match new.schemas.get(name) {
                Some(new_schema) => self.schema(schema, new_schema, &at, false),
                None => {
                    let stripped = strip_descriptive(schema);
                    let successor = new.schemas.iter().find(|(n, s)| {
                        !old.schemas.contains_key(*n)
                            && !renamed_to.contains(*n)
                            && strip_descriptive(s) == stripped
                    });
                    match successor {
                        Some((n, _)) => {
                            renamed_to.insert(n.clone());
                            self.push(
                                Class::Rust,
                                Section::Changed,
                                &at,
                                format!("schema renamed `{name}` -> `{n}`: use {}", type_path(n)),
                            );
                        }
                        None => self.push(
                            Class::Rust,
                            Section::Removed,
                            &at,
                            format!("schema `{name}` removed"),
                        ),
                    }
                }
            }
        }
        for name in new.schemas.keys() {
            if !old.schemas.contains_key(name) && !renamed_to.contains(name) {
                let at = At {
                    spec_path: format!("components.schemas.{name}"),
                    rust_item: type_path(name),
                    replaced: None,
                };
                self.push(
                    Class::Additive,
                    Section::Added,
                    &at,
                    format!("new schema `{name}`"),
                );
            }
        }
    }

    /// Two versions of one schema. `typed`: the caller already compared the
    /// Rust types (a struct field's), so only what lies under it is left.
    fn schema(&mut self, old: &Value, new: &Value, at: &At, typed: bool) {
        if old == new {
            return;
        }
        let (ta, tb) = (rust_type(self.old, old), rust_type(self.new, new));
        if !typed && ta != tb {
            self.push(
                Class::Rust,
                Section::Changed,
                at,
                format!("type changed: {ta} -> {tb}"),
            );
            return;
        }
        let (a, b) = (as_map(old), as_map(new));
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let (va, vb) = (a.get(key), b.get(key));
            if va == vb || (key == "additionalProperties" && allows_any(va) && allows_any(vb)) {
                continue;
            }
            match key.as_str() {
                k if DESCRIPTIVE.contains(&k) => self.push(
                    Class::NoEffect,
                    Section::Changed,
                    at,
                    format!("{k} changed"),
                ),
                "format" => self.push(
                    Class::Wire,
                    Section::Changed,
                    at,
                    format!("format {} -> {} (same Rust type {tb})", show(va), show(vb)),
                ),
                "default" => self.push(
                    Class::Wire,
                    Section::Changed,
                    at,
                    format!("default {} -> {}", show(va), show(vb)),
                ),
                "nullable" => self.push(
                    Class::Wire,
                    Section::Changed,
                    at,
                    format!("nullable {} -> {} (same Rust type)", show(va), show(vb)),
                ),
                "maxLength" | "minLength" | "minimum" | "maximum" | "exclusiveMinimum"
                | "exclusiveMaximum" | "multipleOf" | "maxItems" | "minItems" | "uniqueItems"
                | "maxProperties" | "minProperties" | "pattern" => self.push(
                    Class::Wire,
                    Section::Changed,
                    at,
                    format!(
                        "{key} {} -> {} ({})",
                        show(va),
                        show(vb),
                        tightening(key, va, vb)
                    ),
                ),
                "enum" => self.enum_values(va, vb, at),
                "required" | "properties" => {}
                "items" => {
                    let null = Value::Null;
                    self.schema(
                        va.unwrap_or(&null),
                        vb.unwrap_or(&null),
                        &at.child("items", format!("{} (items)", at.rust_item)),
                        false,
                    )
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let (la, lb) = (list(va), list(vb));
                    if la.len() != lb.len() {
                        self.push(
                            Class::Rust,
                            Section::Changed,
                            at,
                            format!("{key} has {} members (had {})", lb.len(), la.len()),
                        );
                    } else {
                        for (i, (ma, mb)) in la.iter().zip(&lb).enumerate() {
                            self.schema(
                                ma,
                                mb,
                                &at.child(&format!("{key}.{i}"), at.rust_item.clone()),
                                false,
                            );
                        }
                    }
                }
                _ => self.push(
                    Class::Wire,
                    Section::Changed,
                    at,
                    format!("{key} {} -> {}", show(va), show(vb)),
                ),
            }
        }
        self.properties(old, new, at);
    }

    /// An object's properties (struct fields): removed, renamed, added, and
    /// changed in requiredness or type.
    fn properties(&mut self, old: &Value, new: &Value, at: &At) {
        let empty = serde_json::Map::new();
        let pa = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let pb = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required = |schema: &Value, name: &str| {
            schema
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(name)))
        };
        let sep = if at.rust_item.starts_with("types::") || at.rust_item.starts_with("crate::") {
            "::"
        } else {
            "."
        };
        let field = |name: &str| format!("{}{sep}{}", at.rust_item, sanitize(name, Case::Snake));
        let removed: Vec<&String> = pa.keys().filter(|k| !pb.contains_key(*k)).collect();
        let mut added: Vec<&String> = pb.keys().filter(|k| !pa.contains_key(*k)).collect();
        for name in removed {
            let here = at.child(&format!("properties.{name}"), field(name));
            let stripped = strip_descriptive(&pa[name]);
            let twin = added.iter().position(|n| {
                strip_descriptive(&pb[*n]) == stripped && required(new, n) == required(old, name)
            });
            match twin {
                Some(i) => {
                    let n = added.remove(i);
                    self.push(
                        Class::Rust,
                        Section::Changed,
                        &here,
                        format!("property renamed `{name}` -> `{n}`: now {}", field(n)),
                    );
                }
                None => self.push(Class::Rust, Section::Removed, &here, "property removed"),
            }
        }
        for name in added {
            let here = at.child(&format!("properties.{name}"), field(name));
            if required(new, name) {
                self.push(
                    Class::Rust,
                    Section::Added,
                    &here,
                    format!(
                        "new required property ({}; builders and struct literals must set it)",
                        field_type(self.new, &pb[name], true)
                    ),
                );
            } else {
                self.push(
                    Class::Additive,
                    Section::Added,
                    &here,
                    format!(
                        "new optional property ({})",
                        field_type(self.new, &pb[name], false)
                    ),
                );
            }
        }
        for (name, sa) in pa {
            let Some(sb) = pb.get(name) else { continue };
            let here = at.child(&format!("properties.{name}"), field(name));
            let (ra, rb) = (required(old, name), required(new, name));
            let (fa, fb) = (field_type(self.old, sa, ra), field_type(self.new, sb, rb));
            if !ra && rb {
                self.push(
                    Class::Rust,
                    Section::Changed,
                    &here,
                    format!("optional property became required ({fa} -> {fb}; the builder must now set it)"),
                );
            } else if fa != fb {
                self.push(
                    Class::Rust,
                    Section::Changed,
                    &here,
                    format!("type changed: {fa} -> {fb}"),
                );
            } else if ra && !rb {
                self.push(
                    Class::Additive,
                    Section::Changed,
                    &here,
                    format!("required property became optional (same Rust type {fb})"),
                );
            }
            if fa == fb || (!ra && rb) {
                self.schema(sa, sb, &here, true);
            }
        }
    }

    /// Enum values (variants) removed and added.
    fn enum_values(&mut self, old: Option<&Value>, new: Option<&Value>, at: &At) {
        let (a, b) = (list(old), list(new));
        let variant = |v: &Value| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            let name = sanitize(&text, Case::Pascal);
            // A component enum is a named type; an inline one is named by typify
            // after its parent.
            let component = at.spec_path.starts_with("components.schemas.")
                && at.spec_path.matches('.').count() == 2;
            if component {
                format!("{}::{name}", at.rust_item)
            } else {
                format!("{} (variant {name})", at.rust_item)
            }
        };
        for v in a.iter().filter(|v| !b.contains(v)) {
            let here = At {
                spec_path: format!("{}.enum.{}", at.spec_path, plain(v)),
                rust_item: variant(v),
                replaced: at.replaced,
            };
            self.push(
                Class::Rust,
                Section::Removed,
                &here,
                "enum value removed (its variant is gone)",
            );
        }
        for v in b.iter().filter(|v| !a.contains(v)) {
            let here = At {
                spec_path: format!("{}.enum.{}", at.spec_path, plain(v)),
                rust_item: variant(v),
                replaced: at.replaced,
            };
            self.push(
                Class::Rust,
                Section::Added,
                &here,
                "new enum value (a new variant: exhaustive matches need an arm; \
                 old clients cannot decode it in a response)",
            );
        }
    }
}

/// `additionalProperties` absent, `true` or `{}`: any extra property is
/// accepted (OpenAPI's default), the same code either way.
fn allows_any(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Bool(true)) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    }
}

/// The JSON schema of a request body or response, if it has one.
fn json_schema(body: &Value) -> Option<&Value> {
    body.get("content")?.get("application/json")?.get("schema")
}

/// A schema's keys (none when it is not a mapping).
fn as_map(value: &Value) -> BTreeMap<String, Value> {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A list keyword's members (none when absent).
fn list(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// A value for a report line: `none` when absent.
fn show(value: Option<&Value>) -> String {
    match value {
        None => "none".into(),
        Some(v) => plain(v),
    }
}

/// A value as text: strings without quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a validation keyword's change accepts fewer values (tightened) or
/// more (loosened).
fn tightening(key: &str, old: Option<&Value>, new: Option<&Value>) -> &'static str {
    let upper = matches!(key, "maxLength" | "maximum" | "maxItems" | "maxProperties");
    let lower = matches!(key, "minLength" | "minimum" | "minItems" | "minProperties");
    let (a, b) = (old.and_then(Value::as_f64), new.and_then(Value::as_f64));
    match (a, b) {
        (None, Some(_)) | (Some(_), None) if !(upper || lower) => "changed",
        (None, Some(_)) => "tightened",
        (Some(_), None) => "loosened",
        (Some(a), Some(b)) if (upper && b < a) || (lower && b > a) => "tightened",
        (Some(a), Some(b)) if a != b => "loosened",
        _ => "changed",
    }
}

/// Whether a parameter or request body says `required: true`.
fn required(value: &Value) -> bool {
    value.get("required").and_then(Value::as_bool) == Some(true)
}
