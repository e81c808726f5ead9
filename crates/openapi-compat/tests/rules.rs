//! One test per conversion rule, each through [`check`]: the schema is put in
//! a minimal 3.1 document, converted, compared with the expected 3.0 schema,
//! parsed by `openapiv3`, and converted once more to prove idempotence.

use openapi_compat::{ConvertError, Warning, convert};
use serde_json::{Value, json};

fn document_with_schema(schema: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {"schemas": {"S": schema}}
    })
}

/// Converts `input` as the component `S` and checks the result against
/// `expected`; returns the warnings.
#[track_caller]
fn check(input: Value, expected: Value) -> Vec<Warning> {
    let conversion = match convert(document_with_schema(input)) {
        Ok(conversion) => conversion,
        Err(error) => panic!("conversion failed: {error}"),
    };
    let converted = conversion
        .document
        .pointer("/components/schemas/S")
        .cloned();
    assert_eq!(converted, Some(expected));
    assert_eq!(conversion.document["openapi"], "3.0.3");
    assert_valid_30(&conversion.document);
    let again = convert(conversion.document.clone()).map(|c| c.document);
    assert_eq!(again.as_ref(), Ok(&conversion.document), "not idempotent");
    conversion.warnings
}

#[track_caller]
fn check_error(input: Value) -> ConvertError {
    match convert(document_with_schema(input)) {
        Ok(conversion) => panic!("expected an error, got {:#}", conversion.document),
        Err(error) => error,
    }
}

#[track_caller]
fn assert_valid_30(document: &Value) {
    if let Err(error) = serde_json::from_value::<openapiv3::OpenAPI>(document.clone()) {
        panic!("openapiv3 rejects the output: {error}\n{document:#}");
    }
}

#[test]
fn any_of_with_null_becomes_nullable() {
    let warnings = check(
        json!({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}], "title": "At"}),
        json!({"title": "At", "type": "string", "format": "date-time", "nullable": true}),
    );
    assert!(warnings.is_empty());
}

#[test]
fn one_of_with_null_becomes_nullable() {
    check(
        json!({"oneOf": [{"type": "integer"}, {"type": "null"}]}),
        json!({"type": "integer", "nullable": true}),
    );
}

#[test]
fn nullable_reference_is_wrapped_in_all_of() {
    check(
        json!({"anyOf": [{"$ref": "#/components/schemas/T"}, {"type": "null"}], "description": "d"}),
        json!({"allOf": [{"$ref": "#/components/schemas/T"}], "description": "d", "nullable": true}),
    );
}

#[test]
fn several_non_null_branches_keep_the_union() {
    check(
        json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
        json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true}),
    );
}

#[test]
fn union_without_null_is_untouched() {
    check(
        json!({"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array"}),
        json!({"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array"}),
    );
}

#[test]
fn conflicting_branch_is_wrapped_not_merged() {
    // The branch's `type` differs from the parent's: merging would lie.
    check(
        json!({"type": "object", "anyOf": [{"type": "string"}, {"type": "null"}]}),
        json!({"type": "object", "allOf": [{"type": "string"}], "nullable": true}),
    );
}

#[test]
fn type_list_with_null_becomes_nullable() {
    check(
        json!({"type": ["string", "null"], "maxLength": 3}),
        json!({"type": "string", "nullable": true, "maxLength": 3}),
    );
}

#[test]
fn type_list_of_several_types_becomes_any_of() {
    check(
        json!({"type": ["string", "integer", "null"]}),
        json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true}),
    );
}

#[test]
fn bare_null_type_becomes_a_null_enum() {
    check(
        json!({"type": "null"}),
        json!({"enum": [null], "nullable": true}),
    );
    check(
        json!({"type": ["null"]}),
        json!({"enum": [null], "nullable": true}),
    );
}

#[test]
fn const_becomes_a_one_value_enum() {
    check(
        json!({"type": "string", "const": "display"}),
        json!({"type": "string", "enum": ["display"]}),
    );
}

#[test]
fn examples_become_example() {
    check(
        json!({"type": "string", "examples": ["a", "b"]}),
        json!({"type": "string", "example": "a"}),
    );
}

#[test]
fn numeric_exclusive_bounds_become_boolean_flags() {
    check(
        json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5}),
        json!({"type": "number", "exclusiveMinimum": true, "exclusiveMaximum": true, "minimum": 0, "maximum": 1.5}),
    );
}

#[test]
fn tighter_inclusive_bound_wins_over_exclusive() {
    check(
        json!({"type": "integer", "minimum": 5, "exclusiveMinimum": 1}),
        json!({"type": "integer", "minimum": 5}),
    );
    check(
        json!({"type": "integer", "minimum": 1, "exclusiveMinimum": 5}),
        json!({"type": "integer", "minimum": 5, "exclusiveMinimum": true}),
    );
}

#[test]
fn content_keywords_become_formats() {
    check(
        json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        json!({"type": "string", "format": "binary"}),
    );
    check(
        json!({"type": "string", "contentEncoding": "base64"}),
        json!({"type": "string", "format": "byte"}),
    );
}

#[test]
fn json_schema_identifiers_are_dropped() {
    check(
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "$comment": "c", "type": "string"}),
        json!({"type": "string"}),
    );
}

#[test]
fn untyped_schemas_stay_any() {
    check(json!({"title": "Input"}), json!({"title": "Input"}));
}

#[test]
fn tuple_of_one_type_becomes_an_exact_array() {
    let warnings = check(
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2}),
        json!({"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}}),
    );
    assert!(warnings.is_empty());
}

#[test]
fn tuple_of_several_types_becomes_an_array_of_their_union_with_a_warning() {
    let warnings = check(
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
        json!({"type": "array", "maxItems": 2, "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}),
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].pointer, "/components/schemas/S/prefixItems");
}

#[test]
fn property_names_are_dropped_with_a_warning() {
    let warnings = check(
        json!({"type": "object", "additionalProperties": {"type": "integer"}, "propertyNames": {"format": "uuid"}}),
        json!({"type": "object", "additionalProperties": {"type": "integer"}}),
    );
    assert_eq!(
        warnings,
        [Warning {
            pointer: "/components/schemas/S/propertyNames".into(),
            message: "`propertyNames` dropped: OpenAPI 3.0 cannot state this constraint".into(),
        }]
    );
}

#[test]
fn reference_with_constraining_siblings_becomes_all_of() {
    check(
        json!({"$ref": "#/components/schemas/T", "default": "x", "description": "d"}),
        json!({"default": "x", "description": "d", "allOf": [{"$ref": "#/components/schemas/T"}]}),
    );
    check(
        json!({"$ref": "#/components/schemas/T", "description": "d"}),
        json!({"$ref": "#/components/schemas/T", "description": "d"}),
    );
}

#[test]
fn boolean_schemas_become_objects() {
    check(
        json!({"type": "object", "properties": {"any": true, "never": false}}),
        json!({"type": "object", "properties": {"any": {}, "never": {"not": {}}}}),
    );
}

#[test]
fn nested_schemas_are_converted() {
    check(
        json!({
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "map": {"type": "object", "additionalProperties": {"const": 1}}
            }
        }),
        json!({
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string", "nullable": true}},
                "map": {"type": "object", "additionalProperties": {"enum": [1]}}
            }
        }),
    );
}

#[test]
fn inexpressible_keywords_are_errors_naming_the_pointer() {
    let error = check_error(json!({
        "type": "object",
        "properties": {"p": {"type": "object", "patternProperties": {"^x": {"type": "string"}}}}
    }));
    assert_eq!(
        error.to_string(),
        "cannot express `patternProperties` at /components/schemas/S/properties/p/patternProperties \
         in OpenAPI 3.0: the value type of keys matching a pattern has no 3.0 form"
    );
    for keyword in ["if", "dependentSchemas", "$dynamicRef", "$defs"] {
        let error = check_error(json!({ keyword: {} }));
        assert!(
            matches!(&error, ConvertError::Inexpressible { keyword: k, .. } if k == keyword),
            "{keyword}: {error}"
        );
    }
}

#[test]
fn malformed_schemas_are_errors() {
    let error = check_error(json!({"properties": []}));
    assert_eq!(
        error,
        ConvertError::Malformed {
            pointer: "/components/schemas/S/properties".into(),
            expected: "an object of property schemas".into(),
        }
    );
}

fn operation_document(parameter_required: bool) -> Value {
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "t", "version": "1", "summary": "s", "license": {"name": "MIT", "identifier": "MIT"}},
        "webhooks": {},
        "paths": {
            "/items": {
                "get": {
                    "operationId": "list_items",
                    "parameters": [{
                        "name": "cursor", "in": "query", "required": parameter_required,
                        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Cursor"}
                    }],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}},
                                "examples": {"one": {"value": ["a"]}}
                            }}
                        }
                    }
                }
            }
        }
    })
}

#[test]
fn optional_parameters_lose_their_null_branch() {
    let document = convert(operation_document(false)).map(|c| c.document);
    let schema = document
        .as_ref()
        .ok()
        .and_then(|d| d.pointer("/paths/~1items/get/parameters/0/schema"));
    assert_eq!(schema, Some(&json!({"title": "Cursor", "type": "string"})));

    // A required parameter keeps it: null is a value the caller must be able to send.
    let document = convert(operation_document(true)).map(|c| c.document);
    let schema = document
        .as_ref()
        .ok()
        .and_then(|d| d.pointer("/paths/~1items/get/parameters/0/schema"));
    assert_eq!(
        schema,
        Some(&json!({"title": "Cursor", "type": "string", "nullable": true}))
    );
}

#[test]
fn document_level_31_fields_are_dropped_and_media_type_examples_kept() {
    let conversion = convert(operation_document(false));
    let Ok(conversion) = conversion else {
        panic!("conversion failed: {conversion:?}");
    };
    let document = &conversion.document;
    assert_eq!(document["openapi"], "3.0.3");
    assert!(document.get("jsonSchemaDialect").is_none());
    assert!(document.get("webhooks").is_none());
    assert_eq!(
        document["info"],
        json!({"title": "t", "version": "1", "license": {"name": "MIT"}})
    );
    // `examples` of a media type is a map of Example objects, not a schema keyword.
    assert_eq!(
        document.pointer("/paths/~1items/get/responses/200/content/application~1json/examples"),
        Some(&json!({"one": {"value": ["a"]}}))
    );
    assert_valid_30(document);
}

#[test]
fn openapi_30_documents_pass_unchanged() {
    let document = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {"schemas": {
            "S": {"type": "integer", "nullable": true, "minimum": 0, "exclusiveMinimum": true, "example": 3},
            "R": {"allOf": [{"$ref": "#/components/schemas/S"}], "nullable": true}
        }}
    });
    let conversion = convert(document.clone());
    assert_eq!(conversion.map(|c| c.document), Ok(document));
}

#[test]
fn other_versions_are_refused() {
    let swagger = json!({"swagger": "2.0"});
    assert_eq!(convert(swagger), Err(ConvertError::MissingVersion));
    let future = json!({"openapi": "4.0.0"});
    assert_eq!(
        convert(future),
        Err(ConvertError::UnsupportedVersion("4.0.0".into()))
    );
    assert_eq!(convert(json!([])), Err(ConvertError::NotAnObject));
}

#[test]
fn oauth_flow_without_scopes_gets_an_empty_map() {
    let mut document = document_with_schema(json!({"type": "string"}));
    document["components"]["securitySchemes"] = json!({
        "OAuth2": {"type": "oauth2", "flows": {"password": {"tokenUrl": "/login"}}}
    });
    let conversion = match convert(document) {
        Ok(conversion) => conversion,
        Err(error) => panic!("conversion failed: {error}"),
    };
    assert_eq!(
        conversion.document["components"]["securitySchemes"]["OAuth2"]["flows"]["password"],
        json!({"tokenUrl": "/login", "scopes": {}})
    );
    assert_valid_30(&conversion.document);
}

/// `normalize` of `input` as the component `S`.
#[track_caller]
fn normalized(input: Value) -> (Value, Vec<Warning>) {
    match openapi_compat::normalize(document_with_schema(input)) {
        Ok(n) => (
            n.document
                .pointer("/components/schemas/S")
                .cloned()
                .unwrap_or(Value::Null),
            n.warnings,
        ),
        Err(error) => panic!("normalize failed: {error}"),
    }
}

#[test]
fn normalize_rewrites_what_means_the_same_and_keeps_the_rest() {
    // The equivalences are the converter's.
    let (schema, warnings) = normalized(json!({
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "b": {"type": ["integer", "null"], "exclusiveMinimum": 0},
            "c": {"const": "x"},
            "d": {"type": "string", "contentMediaType": "image/png"}
        }
    }));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        schema["properties"],
        json!({
            "a": {"type": "string", "nullable": true},
            "b": {"type": "integer", "nullable": true, "minimum": 0, "exclusiveMinimum": true},
            "c": {"enum": ["x"]},
            "d": {"type": "string", "format": "binary", "contentMediaType": "image/png"}
        })
    );
    // What 3.0 cannot say stays, with its subschemas normalized.
    let input = json!({
        "if": {"properties": {"k": {"const": 1}}},
        "then": {"required": ["v"]},
        "else": true,
        "patternProperties": {"^x-": {"type": ["string", "null"]}},
        "dependentSchemas": {"a": {"required": ["b"]}},
        "dependentRequired": {"a": ["b"]},
        "propertyNames": {"maxLength": 3},
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "contains": {"const": 2},
        "unevaluatedProperties": false,
        "$defs": {"D": {"type": ["null", "string"]}}
    });
    let (schema, warnings) = normalized(input);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(schema["if"]["properties"]["k"], json!({"enum": [1]}));
    assert_eq!(schema["else"], json!({}));
    assert_eq!(
        schema["patternProperties"]["^x-"],
        json!({"type": "string", "nullable": true})
    );
    assert_eq!(schema["dependentRequired"], json!({"a": ["b"]}));
    assert_eq!(schema["prefixItems"][1], json!({"type": "integer"}));
    assert_eq!(schema["contains"], json!({"enum": [2]}));
    assert_eq!(schema["unevaluatedProperties"], json!({"not": {}}));
    assert_eq!(
        schema["$defs"]["D"],
        json!({"type": "string", "nullable": true})
    );
}

#[test]
fn normalize_reads_null_objects_as_absent_and_keeps_the_version() {
    let document = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"responses": null}},
            "/b": {"post": {"requestBody": {"content": null}, "responses": {"200": {"description": "ok", "content": null}}}}
        },
        "webhooks": {"w": {}},
        "components": {"securitySchemes": {"m": {"type": "mutualTLS"}}}
    });
    let n = openapi_compat::normalize(document.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n.document["openapi"], "3.1.0");
    assert_eq!(n.document["webhooks"], document["webhooks"]);
    let pointers: Vec<&str> = n.warnings.iter().map(|w| w.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/paths/~1a/get/responses",
            "/paths/~1b/post/requestBody/content",
            "/paths/~1b/post/responses/200/content"
        ]
    );
    // The converter refuses the same document.
    assert!(convert(document).is_err());
}
