//! Whole documents: every valid 3.0/3.1 document can be diffed, real-world
//! documents against themselves are empty, and each against its own
//! 3.0-converted form differs only where the converter says it dropped
//! something.

use std::path::PathBuf;

use openapi_drift::{Severity, diff, diff_texts};
use serde_json::{Value, json};

/// The documents of `../shared/corpus31/`, read in place (name, text).
fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus31"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        if let Err(e) = feather_test_support::skip(
            "corpus31 documents",
            &format!("no corpus at {}", dir.display()),
        ) {
            panic!("{e}");
        }
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "json" || x == "yaml" || x == "yml")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no documents in {}", dir.display());
    out
}

#[test]
fn every_corpus_document_against_itself_is_empty() {
    for (name, text) in corpus() {
        let found = diff_texts(&text, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(found.is_empty(), "{name}: {found:#?}");
    }
}

/// A document against its own 3.0 form: the converter respells, and drops
/// what 3.0 cannot state (`propertyNames`, `contains`, ...) with a warning.
/// Respelling is never a finding; a dropped constraint is a real difference,
/// so findings are allowed only under a place the converter reported.
#[test]
fn every_corpus_document_against_its_converted_form_is_empty() {
    for (name, text) in corpus() {
        let document = openapi_compat::parse_document(&text).unwrap_or_else(|e| panic!("{e}"));
        let conversion = match openapi_compat::convert(document.clone()) {
            Ok(c) => c,
            Err(e) => {
                println!("{name}: the converter refuses it ({e}); not compared");
                continue;
            }
        };
        for (old, new) in [
            (&document, &conversion.document),
            (&conversion.document, &document),
        ] {
            let found = diff(old, new).unwrap_or_else(|e| panic!("{name}: {e}"));
            for f in &found {
                let explained = conversion.warnings.iter().any(|w| {
                    let schema = w.pointer.rsplit_once('/').map_or("", |(p, _)| p);
                    [&f.old_pointer, &f.new_pointer]
                        .iter()
                        .any(|p| p.as_deref().is_some_and(|p| p.starts_with(schema)))
                });
                assert!(
                    explained,
                    "{name}: {f:#?}\nconverter warnings: {:#?}",
                    conversion.warnings
                );
            }
            println!(
                "{name}: {} finding(s) against its 3.0 form, all where the converter dropped a constraint ({} warning(s))",
                found.len(),
                conversion.warnings.len()
            );
        }
    }
}

#[test]
fn the_feather_document_against_its_converted_form_is_empty() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let document = openapi_compat::parse_document(&text).unwrap_or_else(|e| panic!("{e}"));
    let converted = openapi_compat::convert(document.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .document;
    for (a, b) in [(&document, &converted), (&converted, &document)] {
        let found = diff(a, b).unwrap_or_else(|e| panic!("{e}"));
        assert!(found.is_empty(), "{found:#?}");
    }
}

/// A 3.1 document using every JSON Schema 2020-12 keyword the converter
/// cannot express, plus `responses: null` and `content: null`.
fn every_keyword() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "k", "version": "1"},
        "paths": {
            "/null": {"get": {"responses": null}},
            "/k": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/K"}}}},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/K"}}}},
                    "404": {"description": "none", "content": null}
                }
            }}
        },
        "webhooks": {"ping": {"post": {"responses": {"200": {"description": "ok"}}}}},
        "components": {
            "securitySchemes": {"mtls": {"type": "mutualTLS"}},
            "schemas": {"K": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://example.com/k",
                "$comment": "every keyword",
                "$defs": {"D": {"type": ["string", "null"]}},
                "type": "object",
                "properties": {
                    "tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false},
                    "list": {"type": "array", "contains": {"const": 1}, "minContains": 1, "maxContains": 3, "unevaluatedItems": false},
                    "map": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}, "propertyNames": {"pattern": "^[a-z-]+$"}, "unevaluatedProperties": false},
                    "cond": {"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["a"]}, "else": {"required": ["b"]}},
                    "dep": {"type": "object", "dependentRequired": {"a": ["b"]}, "dependentSchemas": {"c": {"required": ["d"]}}},
                    "blob": {"type": "string", "contentMediaType": "image/png", "contentEncoding": "base64"},
                    "ref": {"$ref": "#/components/schemas/K/$defs/D"},
                    "dynamic": {"$dynamicRef": "#node"},
                    "anything": true,
                    "nothing": false,
                    "exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                    "constant": {"const": "x"},
                    "examples": {"type": "string", "examples": ["a", "b"]}
                }
            }}
        }
    })
}

#[test]
fn every_json_schema_keyword_and_null_object_can_be_diffed() {
    let old = every_keyword();
    assert!(
        openapi_compat::convert(old.clone()).is_err(),
        "the converter refuses it"
    );
    let same = diff(&old, &old).unwrap_or_else(|e| panic!("{e}"));
    assert!(same.is_empty(), "{same:#?}");
    // Each keyword changed is seen, by name.
    let mut new = old.clone();
    let props = new
        .pointer_mut("/components/schemas/K/properties")
        .unwrap_or_else(|| panic!("no properties"));
    props["tuple"]["prefixItems"][1] = json!({"type": "boolean"});
    props["list"]["maxContains"] = json!(2);
    props["map"]["propertyNames"] = json!({"pattern": "^[a-z]+$"});
    props["map"]["unevaluatedProperties"] = json!(true);
    props["cond"]["else"] = json!({"required": ["c"]});
    props["dep"]["dependentRequired"] = json!({"a": ["b", "c"]});
    props["dep"]["dependentSchemas"] = json!({"c": {"required": ["e"]}});
    props["blob"]["contentMediaType"] = json!("image/jpeg");
    props["exclusive"]["exclusiveMaximum"] = json!(2);
    props["constant"]["const"] = json!("y");
    let found = diff(&old, &new).unwrap_or_else(|e| panic!("{e}"));
    let rules: Vec<&str> = found.iter().map(|f| f.rule).collect();
    for rule in [
        "request-property-type-changed",
        "request-property-contains-changed",
        "request-property-property-names-changed",
        "request-property-unevaluated-properties-changed",
        "request-property-if-then-else-changed",
        "request-property-dependent-required-tightened",
        "request-property-dependent-schemas-changed",
        "request-property-content-media-type-changed",
        "response-property-exclusive-max-increased",
        "response-property-enum-value-added",
        "request-property-enum-value-removed",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:#?}");
    }
}

#[test]
fn null_where_an_object_belongs_is_a_warning_only_when_new() {
    let old = every_keyword();
    let mut new = old.clone();
    new["paths"]["/k"]["post"]["responses"]["200"]["headers"] = Value::Null;
    let found = diff(&old, &new).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, "malformed-value-ignored");
    assert_eq!(found[0].severity, Severity::Warning);
    // The nulls both documents have are not news.
    assert!(diff(&new, &new).unwrap_or_default().is_empty());
}

#[test]
fn a_3_0_and_a_3_1_document_compare_as_their_meaning() {
    let v30 = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "nullable": true, "minimum": 0, "exclusiveMinimum": true},
                "c": {"type": "string", "enum": ["x"]}
            }
        }}}}}}}}
    });
    let v31 = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "n": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]},
                "c": {"type": "string", "const": "x"}
            }
        }}}}}}}}
    });
    for (a, b) in [(&v30, &v31), (&v31, &v30)] {
        let found = diff(a, b).unwrap_or_else(|e| panic!("{e}"));
        assert!(found.is_empty(), "{found:#?}");
    }
}
