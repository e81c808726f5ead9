//! One fixture per rule: a small 3.1 document and one change to it that
//! must produce exactly that rule (at the expected severity), and nothing
//! above `info` besides. Schema-family fixtures are a pair of schemas put
//! at each place of the family: a query parameter, the request body, a
//! request property, the response body, a response property and a
//! response header. A last test checks that every rule the crate reports
//! has a fixture here or in `corpus.rs`.

use std::collections::BTreeSet;

use openapi_drift::{FAMILIES, Finding, RULES, Severity, diff};
use serde_json::{Value, json};

use Severity::{Breaking as B, Info as I, Warning as W};

const NEUTRAL: fn() -> Value = || json!({"type": "string"});

/// The components the discriminator fixtures refer to.
fn components() -> Value {
    let variant = |tag: &str| {
        json!({
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": [tag]}, "type": {"type": "string"}}
        })
    };
    json!({"schemas": {"A": variant("a"), "B": variant("b"), "C": variant("c")}})
}

/// The fixture document with `schema` at the place of `family` and a
/// neutral string schema everywhere else.
fn document(family: &str, schema: &Value) -> Value {
    let at = |f: &str| {
        if f == family {
            schema.clone()
        } else {
            NEUTRAL()
        }
    };
    let wrap = |f: &str, body: &str| {
        if f == family {
            json!({"type": "object", "properties": {"p": schema}})
        } else {
            at(body)
        }
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "fixture", "version": "1"},
        "paths": {"/things/{id}": {"post": {
            "operationId": "make",
            "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "required": true, "schema": at("request-parameter")}
            ],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": wrap("request-property", "request-body")
            }}},
            "responses": {"200": {
                "description": "ok",
                "headers": {"X-H": {"required": true, "schema": at("response-header")}},
                "content": {"application/json": {
                    "schema": wrap("response-property", "response-body")
                }}
            }}
        }}},
        "components": components()
    })
}

/// Checks that `found` holds `rule` at `severity` once, and nothing else
/// above info.
#[track_caller]
fn expect_only(name: &str, found: &[Finding], rule: &str, severity: Severity) {
    let hits: Vec<&Finding> = found.iter().filter(|f| f.rule == rule).collect();
    assert!(
        hits.len() == 1 && hits[0].severity == severity,
        "{name}: expected one {rule} ({severity}), got {found:#?}"
    );
    for f in found.iter().filter(|f| f.rule != rule) {
        assert!(
            f.severity == Severity::Info,
            "{name}: unexpected {} ({}): {}",
            f.rule,
            f.severity,
            f.message
        );
    }
    assert!(
        hits[0].old_pointer.is_some() || hits[0].new_pointer.is_some(),
        "{name}: no pointer"
    );
}

fn run(old: &Value, new: &Value) -> Vec<Finding> {
    diff(old, new).unwrap_or_else(|e| panic!("diff failed: {e}"))
}

/// (change, old schema, new schema, request severity, response severity).
type Fixture = (&'static str, Value, Value, Severity, Severity);

fn fixtures() -> Vec<Fixture> {
    let s = || json!({"type": "string"});
    let with = |base: Value, extra: Value| {
        let mut base = base;
        if let (Some(m), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        base
    };
    let n = |extra: Value| with(json!({"type": "number"}), extra);
    let arr = || json!({"type": "array", "items": {"type": "string"}});
    let obj = || json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}});
    let one_of = || json!({"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]});
    let disc = |d: Value| with(one_of(), json!({"discriminator": d}));
    let mapping = |keys: &[&str]| {
        let m: serde_json::Map<String, Value> = keys
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    json!(format!("#/components/schemas/{}", k.to_uppercase())),
                )
            })
            .collect();
        json!({"propertyName": "kind", "mapping": m})
    };
    // set / unset / changed of a keyword compared as written.
    let written = |stem: &'static str, base: fn() -> Value, a: Value, b: Value| -> Vec<Fixture> {
        vec![
            (
                leak(format!("{stem}-set")),
                base(),
                with(base(), a.clone()),
                B,
                I,
            ),
            (
                leak(format!("{stem}-unset")),
                with(base(), a.clone()),
                base(),
                I,
                W,
            ),
            (
                leak(format!("{stem}-changed")),
                with(base(), a),
                with(base(), b),
                B,
                W,
            ),
        ]
    };
    // The bound families: (stem, keyword, base, small, large, response
    // severity of a loosening).
    let mut out: Vec<Fixture> = vec![
        ("type-changed", s(), json!({"type": "boolean"}), B, B),
        (
            "format-changed",
            json!({"type": "string", "format": "date-time"}),
            json!({"type": "string", "format": "date"}),
            B,
            B,
        ),
        (
            "became-nullable",
            s(),
            json!({"type": ["string", "null"]}),
            I,
            B,
        ),
        (
            "became-not-nullable",
            json!({"type": ["string", "null"]}),
            s(),
            B,
            I,
        ),
        (
            "enum-value-added",
            json!({"type": "string", "enum": ["a"]}),
            json!({"type": "string", "enum": ["a", "b"]}),
            I,
            B,
        ),
        (
            "enum-value-removed",
            json!({"type": "string", "enum": ["a", "b"]}),
            json!({"type": "string", "enum": ["a"]}),
            B,
            I,
        ),
        (
            "enum-added",
            s(),
            json!({"type": "string", "enum": ["a"]}),
            B,
            I,
        ),
        (
            "enum-removed",
            json!({"type": "string", "enum": ["a"]}),
            s(),
            I,
            B,
        ),
        (
            "variants-changed",
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}),
            I,
            B,
        ),
        (
            "multiple-of-set",
            n(json!({})),
            n(json!({"multipleOf": 2})),
            B,
            I,
        ),
        (
            "multiple-of-unset",
            n(json!({"multipleOf": 2})),
            n(json!({})),
            I,
            W,
        ),
        (
            "multiple-of-changed",
            n(json!({"multipleOf": 2})),
            n(json!({"multipleOf": 3})),
            B,
            W,
        ),
        (
            "unique-items-set",
            arr(),
            with(arr(), json!({"uniqueItems": true})),
            B,
            I,
        ),
        (
            "unique-items-unset",
            with(arr(), json!({"uniqueItems": true})),
            arr(),
            I,
            W,
        ),
        (
            "pattern-added",
            s(),
            json!({"type": "string", "pattern": "^a"}),
            B,
            I,
        ),
        // The old client type is a newtype that checks the pattern.
        (
            "pattern-removed",
            json!({"type": "string", "pattern": "^a"}),
            s(),
            I,
            B,
        ),
        (
            "pattern-changed",
            json!({"type": "string", "pattern": "^a"}),
            json!({"type": "string", "pattern": "^b"}),
            W,
            B,
        ),
        (
            "content-media-type-changed",
            json!({"type": "string", "contentMediaType": "image/png"}),
            json!({"type": "string", "contentMediaType": "image/jpeg"}),
            I,
            I,
        ),
        (
            "default-value-added",
            s(),
            json!({"type": "string", "default": "a"}),
            I,
            I,
        ),
        (
            "default-value-removed",
            json!({"type": "string", "default": "a"}),
            s(),
            W,
            I,
        ),
        (
            "default-value-changed",
            json!({"type": "string", "default": "a"}),
            json!({"type": "string", "default": "b"}),
            W,
            I,
        ),
        (
            "additional-properties-tightened",
            obj(),
            with(obj(), json!({"additionalProperties": false})),
            W,
            I,
        ),
        (
            "additional-properties-loosened",
            with(obj(), json!({"additionalProperties": false})),
            obj(),
            I,
            B,
        ),
        (
            "discriminator-added",
            one_of(),
            disc(json!({"propertyName": "kind"})),
            W,
            W,
        ),
        (
            "discriminator-removed",
            disc(json!({"propertyName": "kind"})),
            one_of(),
            W,
            W,
        ),
        (
            "discriminator-property-name-changed",
            disc(json!({"propertyName": "kind"})),
            disc(json!({"propertyName": "type"})),
            B,
            B,
        ),
        (
            "discriminator-mapping-changed",
            disc(mapping(&["a"])),
            disc(mapping(&["a", "b"])),
            I,
            B,
        ),
        (
            "dependent-required-tightened",
            obj(),
            with(obj(), json!({"dependentRequired": {"a": ["b"]}})),
            B,
            I,
        ),
        (
            "dependent-required-loosened",
            with(obj(), json!({"dependentRequired": {"a": ["b"]}})),
            obj(),
            I,
            W,
        ),
        (
            "prefix-items-length-changed",
            json!({"type": "array", "prefixItems": [{"type": "string"}]}),
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}),
            B,
            B,
        ),
    ];
    for (stem, keyword, base, small, large, loosened) in [
        ("max-length", "maxLength", s as fn() -> Value, 5, 10, B),
        ("min-length", "minLength", s, 5, 10, B),
        ("max-items", "maxItems", arr, 5, 10, W),
        ("min-items", "minItems", arr, 5, 10, W),
        ("max-properties", "maxProperties", obj, 5, 10, W),
        ("min-properties", "minProperties", obj, 5, 10, W),
        ("max", "maximum", || json!({"type": "number"}), 5, 10, W),
        ("min", "minimum", || json!({"type": "number"}), 5, 10, W),
        (
            "exclusive-max",
            "exclusiveMaximum",
            || json!({"type": "number"}),
            5,
            10,
            W,
        ),
        (
            "exclusive-min",
            "exclusiveMinimum",
            || json!({"type": "number"}),
            5,
            10,
            W,
        ),
    ] {
        let upper = stem.contains("max");
        let v = |x: i32| with(base(), json!({ keyword: x }));
        let (tight, loose) = if upper {
            (small, large)
        } else {
            (large, small)
        };
        out.push((leak(format!("{stem}-set")), base(), v(tight), B, I));
        out.push((leak(format!("{stem}-unset")), v(tight), base(), I, loosened));
        let (up, down) = if upper {
            ((tight, loose), (loose, tight))
        } else {
            ((loose, tight), (tight, loose))
        };
        // "increased": the value goes up.
        out.push((
            leak(format!("{stem}-increased")),
            v(up.0),
            v(up.1),
            if upper { I } else { B },
            if upper { loosened } else { I },
        ));
        out.push((
            leak(format!("{stem}-decreased")),
            v(down.0),
            v(down.1),
            if upper { B } else { I },
            if upper { I } else { loosened },
        ));
    }
    out.extend(written(
        "contains",
        arr,
        json!({"contains": {"type": "string"}}),
        json!({"contains": {"type": "string"}, "minContains": 2}),
    ));
    out.extend(written(
        "property-names",
        obj,
        json!({"propertyNames": {"maxLength": 3}}),
        json!({"propertyNames": {"maxLength": 2}}),
    ));
    out.extend(written(
        "unevaluated-properties",
        obj,
        json!({"unevaluatedProperties": false}),
        json!({"unevaluatedProperties": {"type": "string"}}),
    ));
    out.extend(written(
        "unevaluated-items",
        arr,
        json!({"unevaluatedItems": false}),
        json!({"unevaluatedItems": {"type": "string"}}),
    ));
    out.extend(written(
        "if-then-else",
        obj,
        json!({"if": {"required": ["a"]}, "then": {"required": ["b"]}}),
        json!({"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["a"]}}),
    ));
    out.extend(written(
        "dependent-schemas",
        obj,
        json!({"dependentSchemas": {"a": {"required": ["b"]}}}),
        json!({"dependentSchemas": {"b": {"required": ["a"]}}}),
    ));
    out.extend(written(
        "pattern-properties",
        obj,
        json!({"patternProperties": {"^x-": {"type": "string"}}}),
        json!({"patternProperties": {"^x-": {"type": "integer"}}}),
    ));
    out.extend(written(
        "not",
        s,
        json!({"not": {"enum": ["x"]}}),
        json!({"not": {"enum": ["y"]}}),
    ));
    out
}

fn leak(s: String) -> &'static str {
    String::leak(s)
}

#[test]
fn every_schema_family_change_has_a_fixture_that_triggers_exactly_it() {
    let fixtures = fixtures();
    let covered: BTreeSet<&str> = fixtures.iter().map(|f| f.0).collect();
    for (change, _) in openapi_drift::CHANGES {
        assert!(covered.contains(change), "no fixture for {change}");
    }
    for (change, old, new, request, response) in &fixtures {
        for family in FAMILIES {
            let rule = format!("{family}-{change}");
            let severity = if family.starts_with("request") {
                *request
            } else {
                *response
            };
            let found = run(&document(family, old), &document(family, new));
            expect_only(&rule, &found, &rule, severity);
        }
    }
}

/// The fixture document (neutral everywhere) as a mutable copy.
fn base() -> Value {
    document("none", &json!({}))
}

const OP: &str = "/paths/~1things~1{id}/post";

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}"))
}

/// Fixtures for the rules outside the families: (name, old, change, rule,
/// severity).
#[allow(clippy::type_complexity)]
fn fixed() -> Vec<(
    &'static str,
    Value,
    Box<dyn Fn(&mut Value)>,
    &'static str,
    Severity,
)> {
    let body = format!("{OP}/requestBody/content/application~1json/schema");
    let response = format!("{OP}/responses/200");
    let resp_body = format!("{response}/content/application~1json/schema");
    let with_props = |required: &[&str]| {
        let mut doc = base();
        let props = json!({"type": "object", "required": required, "properties": {
            "a": {"type": "string"}, "b": {"type": "string"}
        }});
        *at(
            &mut doc,
            &format!("{OP}/requestBody/content/application~1json/schema"),
        ) = props.clone();
        *at(
            &mut doc,
            &format!("{OP}/responses/200/content/application~1json/schema"),
        ) = props;
        doc
    };
    let deprecated = |sunset: Option<&str>| {
        let mut doc = base();
        at(&mut doc, OP)["deprecated"] = json!(true);
        if let Some(day) = sunset {
            at(&mut doc, OP)["x-sunset"] = json!(day);
        }
        doc
    };
    let remove_op = |d: &mut Value| {
        if let Some(paths) = d["paths"].as_object_mut() {
            paths.clear();
        }
    };
    let with_scheme = || {
        let mut doc = base();
        doc["components"]["securitySchemes"] =
            json!({"key": {"type": "apiKey", "in": "header", "name": "x-api-key"}});
        doc
    };
    let header = |required: bool| {
        let mut doc = base();
        *at(&mut doc, &format!("{OP}/responses/200/headers/X-H")) =
            json!({"required": required, "schema": {"type": "string"}});
        doc
    };
    let (b1, b2, b3, r1, r2, r3) = (
        body.clone(),
        body.clone(),
        body,
        resp_body.clone(),
        resp_body.clone(),
        resp_body,
    );
    vec![
        (
            "removed",
            base(),
            Box::new(remove_op),
            "api-removed-without-deprecation",
            B,
        ),
        (
            "removed before sunset",
            deprecated(Some("2999-01-01")),
            Box::new(remove_op),
            "api-removed-before-sunset",
            B,
        ),
        (
            "removed after sunset",
            deprecated(Some("2001-01-01")),
            Box::new(remove_op),
            "api-removed-after-deprecation",
            W,
        ),
        (
            "deprecated",
            base(),
            Box::new(|d| at(d, OP)["deprecated"] = json!(true)),
            "endpoint-deprecated",
            I,
        ),
        (
            "reactivated",
            deprecated(None),
            Box::new(|d| {
                at(d, OP).as_object_mut().map(|o| o.remove("deprecated"));
            }),
            "endpoint-reactivated",
            I,
        ),
        (
            "null content",
            {
                let mut d = base();
                at(&mut d, &format!("{OP}/responses"))["404"] = json!({"description": "none"});
                d
            },
            Box::new(|d| at(d, &format!("{OP}/responses/404"))["content"] = Value::Null),
            "malformed-value-ignored",
            W,
        ),
        (
            "parameter moved",
            base(),
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["in"] = json!("header")),
            "request-parameter-location-changed",
            B,
        ),
        (
            "parameter style",
            base(),
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["style"] = json!("spaceDelimited")),
            "request-parameter-style-changed",
            B,
        ),
        (
            "parameter explode",
            base(),
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["explode"] = json!(false)),
            "request-parameter-explode-changed",
            B,
        ),
        (
            "parameter deprecated",
            base(),
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["deprecated"] = json!(true)),
            "request-parameter-deprecated",
            I,
        ),
        (
            "request property deprecated",
            with_props(&[]),
            Box::new(move |d| at(d, &format!("{b1}/properties/a"))["deprecated"] = json!(true)),
            "request-property-deprecated",
            I,
        ),
        (
            "request property read-only",
            with_props(&[]),
            Box::new(move |d| at(d, &format!("{b2}/properties/a"))["readOnly"] = json!(true)),
            "request-property-read-only-changed",
            W,
        ),
        (
            "request property write-only",
            with_props(&[]),
            Box::new(move |d| at(d, &format!("{b3}/properties/a"))["writeOnly"] = json!(true)),
            "request-property-write-only-changed",
            I,
        ),
        (
            "response property deprecated",
            with_props(&[]),
            Box::new(move |d| at(d, &format!("{r1}/properties/a"))["deprecated"] = json!(true)),
            "response-property-deprecated",
            I,
        ),
        (
            "response property read-only",
            with_props(&[]),
            Box::new(move |d| at(d, &format!("{r2}/properties/a"))["readOnly"] = json!(true)),
            "response-property-read-only-changed",
            I,
        ),
        (
            "response property write-only",
            with_props(&["a"]),
            Box::new(move |d| at(d, &format!("{r3}/properties/a"))["writeOnly"] = json!(true)),
            "response-property-write-only-changed",
            B,
        ),
        (
            "header added",
            base(),
            Box::new(|d| {
                at(d, &format!("{OP}/responses/200/headers"))["X-New"] =
                    json!({"schema": {"type": "string"}});
            }),
            "response-header-added",
            I,
        ),
        (
            "required header removed",
            header(true),
            Box::new(|d| {
                if let Some(h) = at(d, &format!("{OP}/responses/200/headers")).as_object_mut() {
                    h.clear();
                }
            }),
            "required-response-header-removed",
            B,
        ),
        (
            "optional header removed",
            header(false),
            Box::new(|d| {
                if let Some(h) = at(d, &format!("{OP}/responses/200/headers")).as_object_mut() {
                    h.clear();
                }
            }),
            "optional-response-header-removed",
            W,
        ),
        (
            "header became optional",
            header(true),
            Box::new(|d| {
                at(d, &format!("{OP}/responses/200/headers/X-H"))["required"] = json!(false)
            }),
            "response-header-became-optional",
            B,
        ),
        (
            "header became required",
            header(false),
            Box::new(|d| {
                at(d, &format!("{OP}/responses/200/headers/X-H"))["required"] = json!(true)
            }),
            "response-header-became-required",
            I,
        ),
        (
            "tags",
            base(),
            Box::new(|d| at(d, OP)["tags"] = json!(["t"])),
            "operation-tags-changed",
            I,
        ),
        (
            "security",
            with_scheme(),
            Box::new(|d| at(d, OP)["security"] = json!([{"key": []}])),
            "operation-security-changed",
            B,
        ),
        (
            "scheme removed",
            with_scheme(),
            Box::new(|d| {
                d["components"]
                    .as_object_mut()
                    .map(|c| c.remove("securitySchemes"));
            }),
            "security-scheme-removed",
            B,
        ),
        (
            "parameter removed",
            base(),
            Box::new(|d| {
                if let Some(p) = at(d, &format!("{OP}/parameters")).as_array_mut() {
                    p.truncate(1);
                }
            }),
            "request-parameter-removed",
            W,
        ),
        (
            "parameter optional",
            base(),
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["required"] = json!(false)),
            "request-parameter-became-optional",
            I,
        ),
        (
            "parameter required",
            {
                let mut d = base();
                at(&mut d, &format!("{OP}/parameters/1"))["required"] = json!(false);
                d
            },
            Box::new(|d| at(d, &format!("{OP}/parameters/1"))["required"] = json!(true)),
            "request-parameter-became-required",
            B,
        ),
        (
            "body removed",
            base(),
            Box::new(|d| {
                at(d, OP).as_object_mut().map(|o| o.remove("requestBody"));
            }),
            "request-body-removed",
            W,
        ),
        (
            "body added",
            {
                let mut d = base();
                at(&mut d, OP)
                    .as_object_mut()
                    .map(|o| o.remove("requestBody"));
                d
            },
            Box::new(|d| {
                at(d, OP)["requestBody"] = json!({"content": {"application/json": {"schema": {}}}});
            }),
            "request-body-added",
            I,
        ),
        (
            "body optional",
            base(),
            Box::new(|d| at(d, &format!("{OP}/requestBody"))["required"] = json!(false)),
            "request-body-became-optional",
            I,
        ),
        (
            "body required",
            {
                let mut d = base();
                at(&mut d, &format!("{OP}/requestBody"))["required"] = json!(false);
                d
            },
            Box::new(|d| at(d, &format!("{OP}/requestBody"))["required"] = json!(true)),
            "request-body-became-required",
            B,
        ),
        (
            "request media type added",
            base(),
            Box::new(|d| {
                at(d, &format!("{OP}/requestBody/content"))["text/plain"] =
                    json!({"schema": {"type": "string"}});
            }),
            "request-media-type-added",
            I,
        ),
        (
            "request media type removed",
            base(),
            Box::new(|d| {
                *at(d, &format!("{OP}/requestBody/content")) =
                    json!({"text/plain": {"schema": {"type": "string"}}});
            }),
            "request-media-type-removed",
            B,
        ),
        (
            "request property removed",
            with_props(&[]),
            Box::new(|d| {
                at(
                    d,
                    &format!("{OP}/requestBody/content/application~1json/schema/properties"),
                )
                .as_object_mut()
                .map(|p| p.remove("b"));
            }),
            "request-property-removed",
            W,
        ),
        (
            "request property added",
            with_props(&[]),
            Box::new(|d| {
                at(
                    d,
                    &format!("{OP}/requestBody/content/application~1json/schema/properties"),
                )["c"] = json!({"type": "string"});
            }),
            "new-optional-request-property",
            I,
        ),
        (
            "request property required",
            with_props(&[]),
            Box::new(|d| {
                at(
                    d,
                    &format!("{OP}/requestBody/content/application~1json/schema"),
                )["required"] = json!(["a"]);
            }),
            "request-property-became-required",
            B,
        ),
        (
            "request property optional",
            with_props(&["a"]),
            Box::new(|d| {
                at(
                    d,
                    &format!("{OP}/requestBody/content/application~1json/schema"),
                )["required"] = json!([]);
            }),
            "request-property-became-optional",
            I,
        ),
        (
            "success status added",
            base(),
            Box::new(|d| at(d, &format!("{OP}/responses"))["201"] = json!({"description": "c"})),
            "response-success-status-added",
            I,
        ),
        (
            "error status added",
            base(),
            Box::new(|d| at(d, &format!("{OP}/responses"))["404"] = json!({"description": "n"})),
            "response-non-success-status-added",
            I,
        ),
        (
            "error status removed",
            {
                let mut d = base();
                at(&mut d, &format!("{OP}/responses"))["404"] = json!({"description": "n"});
                d
            },
            Box::new(|d| {
                at(d, &format!("{OP}/responses"))
                    .as_object_mut()
                    .map(|r| r.remove("404"));
            }),
            "response-non-success-status-removed",
            W,
        ),
        (
            "response media type added",
            base(),
            Box::new(|d| {
                at(d, &format!("{OP}/responses/200/content"))["text/plain"] =
                    json!({"schema": {"type": "string"}});
            }),
            "response-media-type-added",
            I,
        ),
        (
            "response media type removed",
            base(),
            Box::new(|d| {
                *at(d, &format!("{OP}/responses/200/content")) =
                    json!({"text/plain": {"schema": {"type": "string"}}});
            }),
            "response-media-type-removed",
            B,
        ),
        (
            "response required property added",
            with_props(&[]),
            Box::new(|d| {
                let schema = at(
                    d,
                    &format!("{OP}/responses/200/content/application~1json/schema"),
                );
                schema["properties"]["c"] = json!({"type": "string"});
                schema["required"] = json!(["c"]);
            }),
            "response-required-property-added",
            I,
        ),
        (
            "response property required",
            with_props(&[]),
            Box::new(|d| {
                at(
                    d,
                    &format!("{OP}/responses/200/content/application~1json/schema"),
                )["required"] = json!(["a"]);
            }),
            "response-property-became-required",
            I,
        ),
        (
            "readOnly required property added to a request",
            with_props(&[]),
            Box::new(move |d| {
                let schema = at(
                    d,
                    &format!("{OP}/requestBody/content/application~1json/schema"),
                );
                schema["properties"]["c"] = json!({"type": "string", "readOnly": true});
                schema["required"] = json!(["c"]);
            }),
            "new-required-request-property",
            I,
        ),
        (
            "writeOnly required property gone from a response",
            {
                let mut d = with_props(&["a"]);
                at(
                    &mut d,
                    &format!("{response}/content/application~1json/schema/properties/a"),
                )["writeOnly"] = json!(true);
                d
            },
            Box::new(move |d| {
                let schema = at(
                    d,
                    &format!("{OP}/responses/200/content/application~1json/schema"),
                );
                schema["properties"].as_object_mut().map(|p| p.remove("a"));
                schema["required"] = json!([]);
            }),
            "response-required-property-removed",
            I,
        ),
    ]
}

#[test]
fn every_fixed_rule_fixture_triggers_exactly_it() {
    for (name, old, change, rule, severity) in fixed() {
        let mut new = old.clone();
        change(&mut new);
        expect_only(name, &run(&old, &new), rule, severity);
    }
}

#[test]
fn every_rule_has_a_fixture() {
    let corpus = include_str!("corpus.rs");
    let fixed: BTreeSet<&str> = fixed().iter().map(|f| f.3).collect();
    let changes: BTreeSet<&str> = fixtures().iter().map(|f| f.0).collect();
    let mut missing = Vec::new();
    for rule in RULES.iter() {
        let in_family = FAMILIES.iter().any(|family| {
            rule.id
                .strip_prefix(family)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|change| changes.contains(change))
        });
        if !(in_family || fixed.contains(rule.id) || corpus.contains(&format!("\"{}\"", rule.id))) {
            missing.push(rule.id);
        }
    }
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
}

#[test]
fn variants_naming_components_are_matched_by_name() {
    let a = || json!({"$ref": "#/components/schemas/A"});
    let b = || json!({"$ref": "#/components/schemas/B"});
    let c = || json!({"$ref": "#/components/schemas/C"});
    let family = "response-body";
    let doc = |variants: Vec<Value>| document(family, &json!({ "oneOf": variants }));
    // Reordered: nothing.
    assert!(run(&doc(vec![a(), b()]), &doc(vec![b(), a()])).is_empty());
    // One inserted in front: one finding naming it, the others compared
    // with themselves (no reference "changed").
    let found = run(&doc(vec![a(), b()]), &doc(vec![c(), a(), b()]));
    expect_only("inserted", &found, "response-body-variants-changed", B);
    assert!(
        found[0].message.contains("gained C"),
        "{}",
        found[0].message
    );
    // Replaced at the same count: still seen.
    let found = run(&doc(vec![a(), b()]), &doc(vec![a(), c()]));
    expect_only("replaced", &found, "response-body-variants-changed", B);
    assert!(found[0].message.contains("gained C and lost B"));
    // A request that can no longer be B breaks; one more variant does not.
    let family = "request-body";
    let doc = |variants: Vec<Value>| document(family, &json!({ "oneOf": variants }));
    let found = run(&doc(vec![a(), b()]), &doc(vec![a()]));
    expect_only("removed", &found, "request-body-variants-changed", B);
    let found = run(&doc(vec![a()]), &doc(vec![a(), b()]));
    expect_only("added", &found, "request-body-variants-changed", I);
}
