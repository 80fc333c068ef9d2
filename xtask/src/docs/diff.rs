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

use super::model::{Body, Depth, Kind, Operation, Parameter, Schema};

/// The part of an operation a difference is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// The whole operation (present on one side only).
    Operation,
    /// `operationId`.
    OperationId,
    /// `tags`.
    Tags,
    /// A parameter, by name.
    Parameter(String),
    /// The request body.
    Body,
    /// A response, by status.
    Response(String),
}

/// One step into a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An object property, by JSON name.
    Property(String),
    /// An array's items.
    Items,
}

/// Which fact differs at a place; `None` in [`Difference::aspect`] means the
/// thing itself is present on one side only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    /// A parameter's location.
    In,
    /// A parameter's or a body's `required`, or a property's membership in `required`.
    Required,
    /// The body's media type.
    MediaType,
    /// A response typed on one side, untyped or empty on the other.
    Schema,
    /// The JSON type.
    Type,
    /// `format`.
    Format,
    /// Nullability.
    Nullable,
    /// `default`.
    Default,
    /// `enum`.
    Enum,
    /// `writeOnly`.
    WriteOnly,
}

impl Aspect {
    fn name(self) -> &'static str {
        match self {
            Aspect::In => "in",
            Aspect::Required => "required",
            Aspect::MediaType => "media_type",
            Aspect::Schema => "schema",
            Aspect::Type => "type",
            Aspect::Format => "format",
            Aspect::Nullable => "nullable",
            Aspect::Default => "default",
            Aspect::Enum => "enum",
            Aspect::WriteOnly => "write_only",
        }
    }
}

/// Where a difference is: a part of the operation and a path into its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The part of the operation.
    pub root: Root,
    /// Steps into the part's schema.
    pub steps: Vec<Step>,
}

impl Place {
    /// A place at the top of a part.
    pub fn at(root: Root) -> Place {
        Place {
            root,
            steps: Vec::new(),
        }
    }

    fn then(&self, step: Step) -> Place {
        let mut steps = self.steps.clone();
        steps.push(step);
        Place {
            root: self.root.clone(),
            steps,
        }
    }

    /// The field name reports and deviations.yaml use: `body.links[].weights[].type`.
    pub fn field(&self, aspect: Option<Aspect>) -> String {
        let mut field = match &self.root {
            Root::Operation => "operation".to_string(),
            Root::OperationId => "operation_id".to_string(),
            Root::Tags => "tags".to_string(),
            Root::Parameter(name) => format!("parameter.{name}"),
            Root::Body => "body".to_string(),
            Root::Response(status) => format!("responses.{status}"),
        };
        for step in &self.steps {
            match step {
                Step::Property(name) => {
                    field.push('.');
                    field.push_str(name);
                }
                Step::Items => field.push_str("[]"),
            }
        }
        if let Some(aspect) = aspect {
            field.push('.');
            field.push_str(aspect.name());
        }
        field
    }
}

/// One difference between the left and the right operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// What differs, e.g. `body.tenant_id` or `body.name.type`.
    pub field: String,
    /// Where, structurally (what `field` spells).
    pub place: Place,
    /// Which fact; `None`: the thing at `place` is on one side only.
    pub aspect: Option<Aspect>,
    /// The left side's value; `None` when the left side lacks it.
    pub left: Option<Value>,
    /// The right side's value; `None` when the right side lacks it.
    pub right: Option<Value>,
}

impl Difference {
    /// A difference at `place` in `aspect`.
    pub fn new(
        place: Place,
        aspect: Option<Aspect>,
        left: Option<Value>,
        right: Option<Value>,
    ) -> Self {
        Difference {
            field: place.field(aspect),
            place,
            aspect,
            left,
            right,
        }
    }
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
                Place::at(Root::OperationId),
                None,
                left.operation_id.clone().map(Value::from),
                right.operation_id.clone().map(Value::from),
            );
        }
        if left.tags != right.tags {
            differ.push(
                Place::at(Root::Tags),
                None,
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
            let place = Place::at(Root::Parameter(name.clone()));
            match (left.parameters.get(name), right.parameters.get(name)) {
                (Some(l), Some(r)) => {
                    if l.location != r.location {
                        differ.push(
                            place.clone(),
                            Some(Aspect::In),
                            Some(l.location.clone().into()),
                            Some(r.location.clone().into()),
                        );
                    }
                    if l.required != r.required {
                        differ.push(
                            place.clone(),
                            Some(Aspect::Required),
                            Some(l.required.into()),
                            Some(r.required.into()),
                        );
                    }
                    differ.schema(&place, &l.schema, &r.schema);
                }
                (l, r) => differ.push(
                    place,
                    None,
                    l.map(|p| describe_parameter(p).into()),
                    r.map(|p| describe_parameter(p).into()),
                ),
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
            let place = Place::at(Root::Response(status.clone()));
            match (left.responses.get(status), right.responses.get(status)) {
                (Some(l), Some(r)) => differ.response(&place, l.schema.as_ref(), r.schema.as_ref()),
                (Some(l), None) if right_shows_all => differ.push(
                    place,
                    None,
                    Some(response_label(l.schema.as_ref()).into()),
                    None,
                ),
                (None, Some(r)) if left_shows_all => differ.push(
                    place,
                    None,
                    None,
                    Some(response_label(r.schema.as_ref()).into()),
                ),
                _ => {}
            }
        }
    }
    differ.out
}

/// Every difference between two schemas at full depth, as found at `place`.
pub fn schemas(place: &Place, left: &Schema, right: &Schema) -> Vec<Difference> {
    let mut differ = Differ {
        depth: Depth::Full,
        out: Vec::new(),
    };
    differ.schema(place, left, right);
    differ.out
}

fn describe_parameter(parameter: &Parameter) -> String {
    format!(
        "{}, {}",
        parameter.location,
        parameter.schema.describe(parameter.required)
    )
}

fn response_label(schema: Option<&Schema>) -> String {
    schema.map_or("no content".to_string(), Schema::label)
}

struct Differ {
    depth: Depth,
    out: Vec<Difference>,
}

impl Differ {
    fn push(
        &mut self,
        place: Place,
        aspect: Option<Aspect>,
        left: Option<Value>,
        right: Option<Value>,
    ) {
        self.out.push(Difference::new(place, aspect, left, right));
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
        let place = Place::at(Root::Body);
        match (left, right) {
            (Some(l), Some(r)) => {
                if self.depth == Depth::Full {
                    if l.media_type != r.media_type {
                        self.push(
                            place.clone(),
                            Some(Aspect::MediaType),
                            Some(l.media_type.clone().into()),
                            Some(r.media_type.clone().into()),
                        );
                    }
                    if l.required != r.required {
                        self.push(
                            place.clone(),
                            Some(Aspect::Required),
                            Some(l.required.into()),
                            Some(r.required.into()),
                        );
                    }
                }
                self.schema(&place, &l.schema, &r.schema);
            }
            (None, None) => {}
            // A rendered page without `--data` does not prove there is no body.
            _ if self.depth == Depth::Examples => {}
            (l, r) => self.push(place, None, l.map(describe), r.map(describe)),
        }
    }

    fn response(&mut self, place: &Place, left: Option<&Schema>, right: Option<&Schema>) {
        match (left, right) {
            (Some(l), Some(r)) => {
                let (l_any, r_any) = (l.kind == Kind::Any, r.kind == Kind::Any);
                if l_any && r_any {
                } else if l_any || r_any {
                    if self.depth == Depth::Full {
                        self.push(
                            place.clone(),
                            Some(Aspect::Schema),
                            Some(l.label().into()),
                            Some(r.label().into()),
                        );
                    }
                } else {
                    self.schema(place, l, r);
                }
            }
            (None, None) => {}
            // A rendered page lists statuses without showing each one's content.
            _ if self.depth == Depth::Examples => {}
            (l, r) => self.push(
                place.clone(),
                Some(Aspect::Schema),
                Some(response_label(l).into()),
                Some(response_label(r).into()),
            ),
        }
    }

    fn schema(&mut self, place: &Place, left: &Schema, right: &Schema) {
        if left.kind == Kind::Unknown || right.kind == Kind::Unknown {
            return;
        }
        let (left_type, right_type) = (left.type_name(), right.type_name());
        if left_type != right_type {
            self.push(
                place.clone(),
                Some(Aspect::Type),
                Some(left_type.into()),
                Some(right_type.into()),
            );
            return;
        }
        if self.depth == Depth::Full {
            let text = |s: &Option<String>| s.clone().map(Value::from);
            let list = |v: &Option<Vec<Value>>| v.clone().map(Value::Array);
            let enums_differ = sorted(&left.enum_values) != sorted(&right.enum_values);
            let facts = [
                (
                    Aspect::Format,
                    text(&left.format),
                    text(&right.format),
                    None,
                ),
                (
                    Aspect::Nullable,
                    Some(left.nullable.into()),
                    Some(right.nullable.into()),
                    None,
                ),
                (
                    Aspect::Default,
                    left.default.clone(),
                    right.default.clone(),
                    None,
                ),
                (
                    Aspect::Enum,
                    list(&left.enum_values),
                    list(&right.enum_values),
                    Some(enums_differ),
                ),
                (
                    Aspect::WriteOnly,
                    Some(left.write_only.into()),
                    Some(right.write_only.into()),
                    None,
                ),
            ];
            for (aspect, l, r, differs) in facts {
                // Enum values are compared as sets.
                if differs.unwrap_or(l != r) {
                    self.push(place.clone(), Some(aspect), l, r);
                }
            }
        }
        match (&left.kind, &right.kind) {
            (Kind::Array(l), Kind::Array(r)) => self.schema(&place.then(Step::Items), l, r),
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
                    let field = place.then(Step::Property(name.clone()));
                    let (l_req, r_req) = (l.required.contains(name), r.required.contains(name));
                    match (l.properties.get(name), r.properties.get(name)) {
                        (Some(ls), Some(rs)) => {
                            if self.depth == Depth::Full && l_req != r_req {
                                self.push(
                                    field.clone(),
                                    Some(Aspect::Required),
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
                            self.push(field, None, left_value, right_value);
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
