//! The schema keywords beyond types, properties and enums: formats judged by
//! the generated Rust type, validation constraints, defaults,
//! `additionalProperties`, discriminators and the JSON Schema 2020-12
//! keywords that only 3.1 documents carry.
//!
//! Direction: on the request side a *tightening* (a new or stricter
//! constraint) rejects requests that used to pass, so it is breaking and a
//! loosening is info. On the response side a loosening lets the server send
//! values an old client did not expect: breaking where the client's type
//! checks the constraint when it deserializes (typify's string newtypes
//! check `maxLength`/`minLength`/`pattern`; an integer type such as `u8` or
//! `NonZeroU64` is picked by the bounds), a warning elsewhere.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Severity;
use crate::client::{Scalar, accepts, holds, rust_type, values};
use crate::schema::{Compare, Side, Subject, View, rule_id};

/// A numeric constraint keyword and its rule-id stem.
struct Bound {
    keyword: &'static str,
    stem: &'static str,
    /// An upper bound (`max*`): lowering it tightens.
    upper: bool,
}

const LENGTHS_AND_COUNTS: &[Bound] = &[
    Bound {
        keyword: "maxLength",
        stem: "max-length",
        upper: true,
    },
    Bound {
        keyword: "minLength",
        stem: "min-length",
        upper: false,
    },
    Bound {
        keyword: "maxItems",
        stem: "max-items",
        upper: true,
    },
    Bound {
        keyword: "minItems",
        stem: "min-items",
        upper: false,
    },
    Bound {
        keyword: "maxProperties",
        stem: "max-properties",
        upper: true,
    },
    Bound {
        keyword: "minProperties",
        stem: "min-properties",
        upper: false,
    },
];

/// How a constraint moved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Move {
    Tightened,
    Loosened,
}

/// `set`/`unset`/`increased`/`decreased` for a bound that moved.
fn bound_change(
    upper: bool,
    old: Option<(f64, bool)>,
    new: Option<(f64, bool)>,
) -> Option<(&'static str, Move)> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(("set", Move::Tightened)),
        (Some(_), None) => Some(("unset", Move::Loosened)),
        (Some(a), Some(b)) if a == b => None,
        (Some((a, ax)), Some((b, bx))) => {
            // Compare (value, exclusive): an exclusive bound at the same
            // value is the stricter one.
            let stricter = if upper {
                b < a || (b == a && bx && !ax)
            } else {
                b > a || (b == a && bx && !ax)
            };
            let how = if stricter {
                Move::Tightened
            } else {
                Move::Loosened
            };
            // A lower upper bound or a higher lower bound is stricter.
            let word = if stricter == upper {
                "decreased"
            } else {
                "increased"
            };
            Some((word, how))
        }
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn show(v: Option<(f64, bool)>) -> String {
    match v {
        None => "none".into(),
        Some((n, true)) => format!("{n} (exclusive)"),
        Some((n, false)) => n.to_string(),
    }
}

impl Compare<'_> {
    /// Severity of a constraint move on this side; `checked` says whether
    /// the old client type checks this constraint when it reads a value.
    fn moved(&self, how: Move, checked: bool) -> Severity {
        match (self.side, how) {
            (Side::Request, Move::Tightened) => Severity::Breaking,
            (Side::Request, Move::Loosened) => Severity::Info,
            (Side::Response, Move::Tightened) => Severity::Info,
            (Side::Response, Move::Loosened) if checked => Severity::Breaking,
            (Side::Response, Move::Loosened) => Severity::Warning,
        }
    }

    /// A `format` change, judged by the Rust types on both sides.
    pub(crate) fn format_change(
        &mut self,
        old: &Scalar,
        new: &Scalar,
        op: &str,
        np: &str,
        subject: Subject,
        what: &str,
    ) {
        let show = |f: &Option<String>| f.clone().unwrap_or_else(|| "none".into());
        let (severity, why) = match (rust_type(old), values(old), values(new)) {
            (Some(old_rust), Some(old_values), Some(new_values)) => match self.side {
                Side::Response if !holds(&old_rust, &new_values) => (
                    Severity::Breaking,
                    format!("the client reads it as {old_rust}, which cannot hold every new value"),
                ),
                Side::Request if !accepts(&new_values, &old_values) => (
                    Severity::Breaking,
                    "the server may reject values the old format allowed".to_owned(),
                ),
                _ => (
                    Severity::Info,
                    "old clients still read and send it".to_owned(),
                ),
            },
            // Not a scalar the client maps by format: judge by name.
            _ => (Severity::Warning, "not a scalar type; review it".to_owned()),
        };
        self.add(
            rule_id(self.side, subject, "format-changed"),
            severity,
            op,
            np,
            format!(
                "{what} format changed from {} to {}: {why}",
                show(&old.format),
                show(&new.format)
            ),
        );
    }

    /// Length, count, range, `multipleOf`, `uniqueItems` and `pattern`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn constraints(
        &mut self,
        o: &View<'_>,
        n: &View<'_>,
        old: &Scalar,
        new: &Scalar,
        op: &str,
        np: &str,
        subject: Subject,
        what: &str,
    ) {
        let side = self.side;
        let newtype = rust_type(old).as_deref() == Some("newtype");
        for bound in LENGTHS_AND_COUNTS {
            let (a, b) = (number(o.get(bound.keyword)), number(n.get(bound.keyword)));
            let Some((word, how)) =
                bound_change(bound.upper, a.map(|v| (v, false)), b.map(|v| (v, false)))
            else {
                continue;
            };
            let checked = newtype && bound.keyword.ends_with("Length");
            self.add(
                rule_id(side, subject, &format!("{}-{word}", bound.stem)),
                self.moved(how, checked),
                op,
                np,
                format!(
                    "{what} {} changed from {} to {}",
                    bound.keyword,
                    show(a.map(|v| (v, false))),
                    show(b.map(|v| (v, false)))
                ),
            );
        }

        // The client's integer type is picked by the bounds (typify), so a
        // response bound is checked when the old type cannot hold the new
        // values.
        let int_checked = match (rust_type(old), values(new)) {
            (Some(rust), Some(v)) => !holds(&rust, &v),
            _ => false,
        };
        for (keyword, upper, a, b) in [
            ("maximum", true, old.maximum, new.maximum),
            ("minimum", false, old.minimum, new.minimum),
        ] {
            let Some((word, how)) = bound_change(upper, a, b) else {
                continue;
            };
            let exclusive = a.is_some_and(|(_, x)| x) || b.is_some_and(|(_, x)| x);
            let stem = match (upper, exclusive) {
                (true, false) => "max",
                (true, true) => "exclusive-max",
                (false, false) => "min",
                (false, true) => "exclusive-min",
            };
            self.add(
                rule_id(side, subject, &format!("{stem}-{word}")),
                self.moved(how, int_checked),
                op,
                np,
                format!("{what} {keyword} changed from {} to {}", show(a), show(b)),
            );
        }

        match (old.multiple_of, new.multiple_of) {
            (None, Some(b)) => self.add(
                rule_id(side, subject, "multiple-of-set"),
                self.moved(Move::Tightened, false),
                op,
                np,
                format!("{what} must now be a multiple of {b}"),
            ),
            (Some(a), None) => self.add(
                rule_id(side, subject, "multiple-of-unset"),
                self.moved(Move::Loosened, int_checked),
                op,
                np,
                format!("{what} no longer needs to be a multiple of {a}"),
            ),
            (Some(a), Some(b)) if a != b => {
                let divides = |x: f64, y: f64| y != 0.0 && (x / y).fract() == 0.0;
                let severity = if divides(b, a) {
                    // Every new value is an old one.
                    self.moved(Move::Tightened, false)
                } else if divides(a, b) {
                    self.moved(Move::Loosened, false)
                } else {
                    side.pick(Severity::Breaking, Severity::Warning)
                };
                self.add(
                    rule_id(side, subject, "multiple-of-changed"),
                    severity,
                    op,
                    np,
                    format!("{what} multipleOf changed from {a} to {b}"),
                );
            }
            _ => {}
        }

        let unique = |v: &View<'_>| v.get("uniqueItems") == Some(&Value::Bool(true));
        match (unique(o), unique(n)) {
            (false, true) => self.add(
                rule_id(side, subject, "unique-items-set"),
                self.moved(Move::Tightened, false),
                op,
                np,
                format!("{what} items must now be unique"),
            ),
            (true, false) => self.add(
                rule_id(side, subject, "unique-items-unset"),
                self.moved(Move::Loosened, false),
                op,
                np,
                format!("{what} items may now repeat"),
            ),
            _ => {}
        }

        let pattern = |v: &View<'_>| v.get("pattern").and_then(Value::as_str).map(str::to_owned);
        match (pattern(o), pattern(n)) {
            (None, Some(b)) => self.add(
                rule_id(side, subject, "pattern-added"),
                self.moved(Move::Tightened, false),
                op,
                np,
                format!("{what} must now match {b}"),
            ),
            (Some(a), None) => self.add(
                rule_id(side, subject, "pattern-removed"),
                self.moved(Move::Loosened, newtype),
                op,
                np,
                format!("{what} no longer has to match {a}"),
            ),
            (Some(a), Some(b)) if a != b => self.add(
                rule_id(side, subject, "pattern-changed"),
                match side {
                    Side::Request => Severity::Warning,
                    Side::Response if newtype => Severity::Breaking,
                    Side::Response => Severity::Warning,
                },
                op,
                np,
                format!("{what} pattern changed from {a} to {b}"),
            ),
            _ => {}
        }

        // The 3.1 content keywords are annotations; their format meaning is
        // compared above.
        let content = |v: &View<'_>| {
            (
                v.get("contentMediaType").cloned(),
                v.get("contentEncoding").cloned(),
            )
        };
        let (ca, cb) = (content(o), content(n));
        let both = |a: &Option<Value>, b: &Option<Value>| a.is_some() && b.is_some() && a != b;
        if both(&ca.0, &cb.0) || both(&ca.1, &cb.1) {
            self.add(
                rule_id(side, subject, "content-media-type-changed"),
                Severity::Info,
                op,
                np,
                format!("{what} content media type or encoding changed"),
            );
        }
    }

    /// `default` added, changed or removed: a client that leaves the value
    /// out gets a different one.
    pub(crate) fn default_value(
        &mut self,
        o: &View<'_>,
        n: &View<'_>,
        op: &str,
        np: &str,
        subject: Subject,
        what: &str,
    ) {
        let side = self.side;
        let (change, severity) = match (o.get("default"), n.get("default")) {
            (None, Some(_)) => ("default-value-added", Severity::Info),
            (Some(_), None) => (
                "default-value-removed",
                side.pick(Severity::Warning, Severity::Info),
            ),
            (Some(a), Some(b)) if a != b => (
                "default-value-changed",
                side.pick(Severity::Warning, Severity::Info),
            ),
            _ => return,
        };
        let message = match (o.get("default"), n.get("default")) {
            (None, Some(b)) => format!("{what} default set to {b}"),
            (Some(a), None) => format!("{what} default {a} removed"),
            (Some(a), Some(b)) => format!("{what} default changed from {a} to {b}"),
            (None, None) => return,
        };
        self.add(rule_id(side, subject, change), severity, op, np, message);
    }

    /// `additionalProperties`: closed, open, or a schema for the values.
    pub(crate) fn additional_properties(
        &mut self,
        o: &View<'_>,
        n: &View<'_>,
        subject: Subject,
        what: &str,
    ) {
        #[derive(PartialEq)]
        enum Extra<'v> {
            Closed,
            Open,
            Typed(&'v Value),
        }
        fn extra<'v>(v: &View<'v>) -> Extra<'v> {
            match v.get("additionalProperties") {
                Some(Value::Bool(false)) => Extra::Closed,
                Some(Value::Object(m))
                    if m.get("not").is_some_and(|n| n == &serde_json::json!({})) =>
                {
                    Extra::Closed
                }
                Some(s @ Value::Object(m)) if !m.is_empty() => Extra::Typed(s),
                _ => Extra::Open,
            }
        }
        let (a, b) = (extra(o), extra(n));
        let side = self.side;
        let (op, np) = (o.pointer.clone(), n.pointer.clone());
        let is_map = |v: &View<'_>| {
            v.get("properties")
                .and_then(Value::as_object)
                .is_none_or(|p| p.is_empty())
        };
        let (change, severity, message) = match (&a, &b) {
            (Extra::Typed(x), Extra::Typed(y)) => {
                self.schema(
                    x,
                    format!("{op}/additionalProperties"),
                    y,
                    format!("{np}/additionalProperties"),
                    Subject::Property,
                    &format!("{what}.*"),
                );
                return;
            }
            (x, y) if x == y => return,
            // Fewer extra properties accepted.
            (Extra::Open, _) | (Extra::Typed(_), Extra::Closed) => (
                "additional-properties-tightened",
                match side {
                    // A map-shaped type sends arbitrary keys.
                    Side::Request if is_map(o) => Severity::Breaking,
                    Side::Request => Severity::Warning,
                    Side::Response => Severity::Info,
                },
                "accepts fewer additional properties",
            ),
            // More extra properties may come back.
            (Extra::Closed, _) | (Extra::Typed(_), Extra::Open) => (
                "additional-properties-loosened",
                // A closed struct denies unknown fields; a typed map cannot
                // hold values of any type.
                side.pick(Severity::Info, Severity::Breaking),
                "allows more additional properties",
            ),
        };
        self.add(
            rule_id(side, subject, change),
            severity,
            &op,
            &np,
            format!("{what} {message}"),
        );
    }

    /// `discriminator`: the tag property and its mapping.
    pub(crate) fn discriminator(
        &mut self,
        o: &View<'_>,
        n: &View<'_>,
        op: &str,
        np: &str,
        subject: Subject,
        what: &str,
    ) {
        let side = self.side;
        let (a, b) = match (o.get("discriminator"), n.get("discriminator")) {
            (None, None) => return,
            (None, Some(_)) => {
                self.add(
                    rule_id(side, subject, "discriminator-added"),
                    Severity::Warning,
                    op,
                    np,
                    format!("{what} now has a discriminator: generated variants change"),
                );
                return;
            }
            (Some(_), None) => {
                self.add(
                    rule_id(side, subject, "discriminator-removed"),
                    Severity::Warning,
                    op,
                    np,
                    format!("{what} no longer has a discriminator: generated variants change"),
                );
                return;
            }
            (Some(a), Some(b)) => (a, b),
        };
        let name = |d: &Value| d.get("propertyName").cloned();
        if name(a) != name(b) {
            self.add(
                rule_id(side, subject, "discriminator-property-name-changed"),
                Severity::Breaking,
                op,
                np,
                format!("{what} discriminator property changed"),
            );
        }
        let mapping = |d: &Value| -> BTreeSet<(String, String)> {
            d.get("mapping")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ma, mb) = (mapping(a), mapping(b));
        if ma != mb {
            let old_keys: BTreeSet<&String> = ma.iter().map(|(k, _)| k).collect();
            let only_added = ma.is_subset(&mb);
            let new_keys: Vec<&String> = mb
                .iter()
                .map(|(k, _)| k)
                .filter(|k| !old_keys.contains(k))
                .collect();
            let severity = if only_added {
                // New tags: an old client cannot read them.
                side.pick(Severity::Info, Severity::Breaking)
            } else {
                Severity::Breaking
            };
            self.add(
                rule_id(side, subject, "discriminator-mapping-changed"),
                severity,
                op,
                np,
                if only_added {
                    format!(
                        "{what} discriminator gained value(s) {}",
                        new_keys
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!("{what} discriminator mapping lost or changed values")
                },
            );
        }
    }

    /// JSON Schema 2020-12 keywords (3.1 documents): compared as written,
    /// their subschemas walked where positions correspond.
    pub(crate) fn json_schema_keywords(
        &mut self,
        o: &View<'_>,
        n: &View<'_>,
        subject: Subject,
        what: &str,
    ) {
        let side = self.side;
        let (op, np) = (o.pointer.clone(), n.pointer.clone());

        // dependentRequired: pairs (property → property it requires).
        let pairs = |v: &View<'_>| -> BTreeSet<(String, String)> {
            v.get("dependentRequired")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .flat_map(|(k, list)| {
                            list.as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(move |r| (k.clone(), r.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (pa, pb) = (pairs(o), pairs(n));
        if pb.difference(&pa).next().is_some() {
            self.add(
                rule_id(side, subject, "dependent-required-tightened"),
                self.moved(Move::Tightened, false),
                &op,
                &np,
                format!("{what} dependentRequired demands more properties"),
            );
        }
        if pa.difference(&pb).next().is_some() {
            self.add(
                rule_id(side, subject, "dependent-required-loosened"),
                self.moved(Move::Loosened, false),
                &op,
                &np,
                format!("{what} dependentRequired demands fewer properties"),
            );
        }

        // Constraints compared as written: set tightens, unset loosens, a
        // change may do either.
        let groups: [(&str, &[&str]); 8] = [
            ("contains", &["contains", "minContains", "maxContains"]),
            ("property-names", &["propertyNames"]),
            ("unevaluated-properties", &["unevaluatedProperties"]),
            ("unevaluated-items", &["unevaluatedItems"]),
            ("if-then-else", &["if", "then", "else"]),
            ("dependent-schemas", &["dependentSchemas"]),
            ("pattern-properties", &["patternProperties"]),
            ("not", &["not"]),
        ];
        for (stem, keywords) in groups {
            let read = |v: &View<'_>| -> Vec<Option<Value>> {
                keywords.iter().map(|k| v.get(k).cloned()).collect()
            };
            let (a, b) = (read(o), read(n));
            if a == b {
                continue;
            }
            let present = |x: &[Option<Value>]| x.iter().any(Option::is_some);
            let (change, severity) = match (present(&a), present(&b)) {
                (false, true) => ("set", self.moved(Move::Tightened, false)),
                (true, false) => ("unset", self.moved(Move::Loosened, false)),
                _ => ("changed", side.pick(Severity::Breaking, Severity::Warning)),
            };
            self.add(
                rule_id(side, subject, &format!("{stem}-{change}")),
                severity,
                &op,
                &np,
                format!("{what} {} {change}", keywords.join("/")),
            );
        }

        // prefixItems: a tuple; typify makes it a Rust tuple, so its length
        // is part of the type.
        let prefix = |v: &View<'_>| v.get("prefixItems").and_then(Value::as_array).cloned();
        if let (Some(a), Some(b)) = (prefix(o), prefix(n)) {
            if a.len() != b.len() {
                self.add(
                    rule_id(side, subject, "prefix-items-length-changed"),
                    Severity::Breaking,
                    &op,
                    &np,
                    format!(
                        "{what} tuple went from {} to {} positions",
                        a.len(),
                        b.len()
                    ),
                );
            }
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                self.schema(
                    x,
                    format!("{op}/prefixItems/{i}"),
                    y,
                    format!("{np}/prefixItems/{i}"),
                    Subject::Property,
                    &format!("{what}[{i}]"),
                );
            }
        } else if prefix(o).is_some() != prefix(n).is_some() {
            self.add(
                rule_id(side, subject, "prefix-items-length-changed"),
                Severity::Breaking,
                &op,
                &np,
                format!("{what} became or stopped being a tuple"),
            );
        }
    }
}
