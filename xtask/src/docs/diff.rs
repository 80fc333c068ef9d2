//! Compares two normalised [`Operation`]s and lists every difference, one per
//! fact, named the way reports and deviations.yaml name them:
//!
//! | field | what |
//! |---|---|
//! | `operation_id`, `tags` | identity (only when both sides carry it) |
//! | `parameter.<name>` | present on one side only |
//! | `parameter.<name>.in` / `.required` / `.type` / `.format` / ... | a parameter fact |
//! | `body` | a request body on one side only |
//! | `body.media_type` / `body.required` / `body.nullable` / `body.type` | body facts |
//! | `body.<field>` | a field on one side only (value: `string, nullable`, ...) |
//! | `body.<field>.<aspect>` | aspect: `type`, `format`, `required`, `nullable`, `default`, `enum`, `write_only` |
//! | `body.<field>[].<...>` | inside array items |
//! | `responses.<status>` | a status on one side only |
//! | `responses.<status>.schema` | typed on one side, untyped (`any`) or empty on the other |
//! | `responses.<status>.<field>...` | as for the body, inside a typed response |
//!
//! The diff is symmetric in what it looks at, except that a side read at
//! [`Depth::Examples`] (a rendered page) is only held to what it shows.

use std::collections::BTreeSet;

use serde_json::Value;

use super::model::{Body, Depth, Kind, Operation, Schema};

/// One difference between the left and the right operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// What differs, e.g. `body.tenant_id` or `body.name.type`.
    pub field: String,
    /// The left side's value; `None` when the left side lacks it.
    pub left: Option<Value>,
    /// The right side's value; `None` when the right side lacks it.
    pub right: Option<Value>,
}

/// Every difference between `left` and `right`, in a stable order.
pub fn operations(left: &Operation, right: &Operation) -> Vec<Difference> {
    let mut differ = Differ {
        depth: Depth::Full,
        out: Vec::new(),
    };
    if left.carried.identity && right.carried.identity {
        if left.operation_id != right.operation_id {
            differ.push(
                "operation_id",
                left.operation_id.clone().map(Value::from),
                right.operation_id.clone().map(Value::from),
            );
        }
        if left.tags != right.tags {
            differ.push(
                "tags",
                Some(Value::from(left.tags.clone())),
                Some(Value::from(right.tags.clone())),
            );
        }
    }

    differ.depth = left.carried.parameters.min(right.carried.parameters);
    if differ.depth != Depth::Absent {
        let names: BTreeSet<&String> = left
            .parameters
            .keys()
            .chain(right.parameters.keys())
            .collect();
        for name in names {
            let field = format!("parameter.{name}");
            match (left.parameters.get(name), right.parameters.get(name)) {
                (Some(l), Some(r)) => {
                    if l.location != r.location {
                        differ.push(
                            &format!("{field}.in"),
                            Some(l.location.clone().into()),
                            Some(r.location.clone().into()),
                        );
                    }
                    if l.required != r.required {
                        differ.push(
                            &format!("{field}.required"),
                            Some(l.required.into()),
                            Some(r.required.into()),
                        );
                    }
                    differ.schema(&field, &l.schema, &r.schema);
                }
                (l, r) => {
                    let describe = |p: &super::model::Parameter| {
                        format!("{}, {}", p.location, p.schema.describe(p.required))
                    };
                    differ.push(
                        &field,
                        l.map(|p| describe(p).into()),
                        r.map(|p| describe(p).into()),
                    );
                }
            }
        }
    }

    differ.depth = left.carried.body.min(right.carried.body);
    if differ.depth != Depth::Absent {
        differ.body(left.body.as_ref(), right.body.as_ref());
    }

    differ.depth = left.carried.responses.min(right.carried.responses);
    if differ.depth != Depth::Absent {
        let left_shows_all = left.carried.responses == Depth::Full;
        let right_shows_all = right.carried.responses == Depth::Full;
        let statuses: BTreeSet<&String> = left
            .responses
            .keys()
            .chain(right.responses.keys())
            .collect();
        for status in statuses {
            let field = format!("responses.{status}");
            match (left.responses.get(status), right.responses.get(status)) {
                (Some(l), Some(r)) => differ.response(&field, l.schema.as_ref(), r.schema.as_ref()),
                (Some(l), None) if right_shows_all => {
                    differ.push(&field, Some(response_label(l.schema.as_ref()).into()), None)
                }
                (None, Some(r)) if left_shows_all => {
                    differ.push(&field, None, Some(response_label(r.schema.as_ref()).into()))
                }
                _ => {}
            }
        }
    }
    differ.out
}

fn response_label(schema: Option<&Schema>) -> String {
    schema.map_or("no content".to_string(), Schema::label)
}

struct Differ {
    depth: Depth,
    out: Vec<Difference>,
}

impl Differ {
    fn push(&mut self, field: &str, left: Option<Value>, right: Option<Value>) {
        self.out.push(Difference {
            field: field.to_string(),
            left,
            right,
        });
    }

    fn body(&mut self, left: Option<&Body>, right: Option<&Body>) {
        let describe = |b: &Body| {
            let mut text = b.schema.label();
            if b.required {
                text.push_str(", required");
            }
            if b.schema.nullable {
                text.push_str(", nullable");
            }
            Value::from(text)
        };
        match (left, right) {
            (Some(l), Some(r)) => {
                if self.depth == Depth::Full {
                    if l.media_type != r.media_type {
                        self.push(
                            "body.media_type",
                            Some(l.media_type.clone().into()),
                            Some(r.media_type.clone().into()),
                        );
                    }
                    if l.required != r.required {
                        self.push(
                            "body.required",
                            Some(l.required.into()),
                            Some(r.required.into()),
                        );
                    }
                }
                self.schema("body", &l.schema, &r.schema);
            }
            (None, None) => {}
            // A rendered page without `--data` does not prove there is no body.
            _ if self.depth == Depth::Examples => {}
            (l, r) => self.push("body", l.map(describe), r.map(describe)),
        }
    }

    fn response(&mut self, field: &str, left: Option<&Schema>, right: Option<&Schema>) {
        match (left, right) {
            (Some(l), Some(r)) => {
                let (l_any, r_any) = (l.kind == Kind::Any, r.kind == Kind::Any);
                if l_any && r_any {
                } else if l_any || r_any {
                    if self.depth == Depth::Full {
                        self.push(
                            &format!("{field}.schema"),
                            Some(l.label().into()),
                            Some(r.label().into()),
                        );
                    }
                } else {
                    self.schema(field, l, r);
                }
            }
            (None, None) => {}
            // A rendered page lists statuses without showing each one's content.
            _ if self.depth == Depth::Examples => {}
            (l, r) => self.push(
                &format!("{field}.schema"),
                Some(response_label(l).into()),
                Some(response_label(r).into()),
            ),
        }
    }

    fn schema(&mut self, path: &str, left: &Schema, right: &Schema) {
        if left.kind == Kind::Unknown || right.kind == Kind::Unknown {
            return;
        }
        let (left_type, right_type) = (left.type_name(), right.type_name());
        if left_type != right_type {
            self.push(
                &format!("{path}.type"),
                Some(left_type.into()),
                Some(right_type.into()),
            );
            return;
        }
        if self.depth == Depth::Full {
            let text = |s: &Option<String>| s.clone().map(Value::from);
            if left.format != right.format {
                self.push(
                    &format!("{path}.format"),
                    text(&left.format),
                    text(&right.format),
                );
            }
            if left.nullable != right.nullable {
                self.push(
                    &format!("{path}.nullable"),
                    Some(left.nullable.into()),
                    Some(right.nullable.into()),
                );
            }
            if left.default != right.default {
                self.push(
                    &format!("{path}.default"),
                    left.default.clone(),
                    right.default.clone(),
                );
            }
            if sorted(&left.enum_values) != sorted(&right.enum_values) {
                let list = |v: &Option<Vec<Value>>| v.clone().map(Value::Array);
                self.push(
                    &format!("{path}.enum"),
                    list(&left.enum_values),
                    list(&right.enum_values),
                );
            }
            if left.write_only != right.write_only {
                self.push(
                    &format!("{path}.write_only"),
                    Some(left.write_only.into()),
                    Some(right.write_only.into()),
                );
            }
        }
        match (&left.kind, &right.kind) {
            (Kind::Array(l), Kind::Array(r)) => self.schema(&format!("{path}[]"), l, r),
            (Kind::Object(l), Kind::Object(r)) => {
                // An empty example object (`"payload": {}`) shows no field names.
                if self.depth == Depth::Examples
                    && (l.properties.is_empty() || r.properties.is_empty())
                {
                    return;
                }
                let names: BTreeSet<&String> =
                    l.properties.keys().chain(r.properties.keys()).collect();
                for name in names {
                    let field = format!("{path}.{name}");
                    let (l_req, r_req) = (l.required.contains(name), r.required.contains(name));
                    match (l.properties.get(name), r.properties.get(name)) {
                        (Some(ls), Some(rs)) => {
                            if self.depth == Depth::Full && l_req != r_req {
                                self.push(
                                    &format!("{field}.required"),
                                    Some(l_req.into()),
                                    Some(r_req.into()),
                                );
                            }
                            self.schema(&field, ls, rs);
                        }
                        (ls, rs) => {
                            let describe = |s: &Schema, required: bool| {
                                Value::from(if self.depth == Depth::Full {
                                    s.describe(required)
                                } else {
                                    s.type_name()
                                })
                            };
                            let left_value = ls.map(|s| describe(s, l_req));
                            let right_value = rs.map(|s| describe(s, r_req));
                            self.push(&field, left_value, right_value);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn sorted(values: &Option<Vec<Value>>) -> Option<Vec<String>> {
    values.as_ref().map(|values| {
        let mut texts: Vec<String> = values.iter().map(Value::to_string).collect();
        texts.sort();
        texts
    })
}
