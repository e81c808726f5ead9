//! progenitor generation on FastAPI-shaped documents, through [`generate_fixture`].
//!
//! These tests check what the generated source declares; that it compiles
//! is checked by `xtask/tests/generated_clients.rs` (gated by
//! `FEATHER_SLOW_TESTS`, it builds this fixture's client and the full
//! upstream one) and, for `openapi.json`, by building `feather-client`.

use feather_codegen::{CodegenError, GENERATED_HEADER, generate};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => panic!("cannot read {path}: {error}"),
    }
}

#[track_caller]
fn generate_fixture(name: &str) -> (String, Vec<String>) {
    match generate(&fixture(name)) {
        Ok(generated) => (
            generated.source,
            generated.notes.iter().map(ToString::to_string).collect(),
        ),
        Err(error) => panic!("generation failed for {name}: {error}"),
    }
}

#[track_caller]
fn assert_declares(source: &str, needles: &[&str]) {
    for needle in needles {
        assert!(source.contains(needle), "generated source lacks {needle:?}");
    }
}

#[test]
fn every_rule_fixture_generates_idiomatic_names() {
    let (source, notes) = generate_fixture("fastapi-every-rule.json");
    assert!(source.starts_with(GENERATED_HEADER));
    assert!(syn_parses(&source));
    assert_declares(
        &source,
        &[
            // FastAPI ids lose their path-and-method suffix...
            "pub fn list_items(&self)",
            "pub fn create_item(&self)",
            // ...unless the short names collide; hand-written ids stay.
            "pub fn get_item_v1_items_item_id_get(&self)",
            "pub fn get_item_v2_items_item_id_get(&self)",
            "pub fn who_am_i(&self)",
            // Schema names Rust cannot use, and a collision with a real name.
            "pub struct ItemInput {",
            "pub struct ItemOutput {",
            "pub struct PageItem {",
            "pub struct PageItem2 {",
        ],
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("\"get_item\" would collide"))
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("tuple of 2 positions widened"))
    );
    assert!(notes.iter().any(|n| n.contains("`propertyNames` dropped")));
}

#[test]
fn every_rule_fixture_generates_the_converted_types() {
    let (source, _) = generate_fixture("fastapi-every-rule.json");
    let item_output = compact(type_body(&source, "pub struct ItemOutput {"));
    for field in [
        // anyOf [date-time, null] -> Option<DateTime<Utc>>; uuid -> Uuid.
        "pub deleted_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,",
        "pub id: ::uuid::Uuid,",
        // anyOf [integer >= 0, null] with `default: null`.
        "pub size: ::std::option::Option<u64>,",
    ] {
        assert!(
            item_output.contains(&compact(field)),
            "{field} in {item_output}"
        );
    }
    let item_input = compact(type_body(&source, "pub struct ItemInput {"));
    for field in [
        // A nullable reference is an Option of the referenced (boxed, recursive) type.
        "pub parent: ::std::option::Option<::std::boxed::Box<ItemInput>>,",
        // type: [array, null] -> Option<Vec<String>>.
        "pub labels: ::std::option::Option<::std::vec::Vec<::std::string::String>>,",
        // Several non-null branches keep the union, nullable.
        "pub score: ::std::option::Option<ItemInputScore>,",
        // contentEncoding: base64 -> format: byte (base64 text).
        "pub blob: ::std::option::Option<::std::string::String>,",
        // A tuple of two date-times -> an array of exactly two.
        "pub range: ::std::option::Option<[::chrono::DateTime<::chrono::offset::Utc>; 2usize],>,",
        // A bare null type.
        "pub nothing: (),",
    ] {
        assert!(
            item_input.contains(&compact(field)),
            "{field} in {item_input}"
        );
    }
    // const -> one-value enum.
    assert_declares(&source, &["pub enum ItemOutputView {", "Full,"]);
}

/// The text without white space, so that assertions do not depend on line
/// breaking.
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn every_operation_has_one_error_type_covering_all_error_statuses() {
    let (source, _) = generate_fixture("fastapi-every-rule.json");
    // The union orders the body with required fields first: serde tries
    // untagged variants in order and HTTPValidationError requires nothing.
    let union = type_body(&source, "pub enum ErrorResponseOrHttpValidationError {");
    let error_response = union.find("ErrorResponse(ErrorResponse)");
    let validation = union.find("HttpValidationError(HttpValidationError)");
    assert!(
        matches!((error_response, validation), (Some(a), Some(b)) if a < b),
        "{union}"
    );
    // Documented or not, every 4xx and 5xx status decodes to that body.
    assert_eq!(source.matches("400u16..=499u16 =>").count(), 5);
    assert_eq!(source.matches("500u16..=599u16 =>").count(), 5);
    assert_eq!(
        source
            .matches("Error<types::ErrorResponseOrHttpValidationError>")
            .count(),
        3,
        "the three operations that declare a 422"
    );
    // Operations without any documented error still get the platform body.
    assert!(source.contains("Error<types::ErrorResponse>"));
}

/// A document with a 422 and a 204 but no `ErrorResponse` schema.
fn without_error_response() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/ping": {"get": {"operationId": "ping_ping_get", "responses": {
            "204": {"description": "ok"},
            "422": {"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
        }}}},
        "components": {"schemas": {"HTTPValidationError": {"type": "object", "properties": {"detail": {"type": "array", "items": {}}}}}}
    })
}

#[test]
fn a_document_without_error_response_gets_only_its_documented_error_bodies() {
    let (source, _) = generate_fixture_text(&without_error_response());
    assert!(!source.contains("ErrorResponse {"), "{source}");
    assert!(!source.contains("ErrorResponseOr"), "{source}");
    // Only the documented status is typed: FastAPI's own 404 is no
    // HTTPValidationError.
    assert!(!source.contains("400u16..=499u16"), "{source}");
    assert!(source.contains("422u16 =>"), "{source}");
    assert_declares(
        &source,
        &[
            "pub struct HttpValidationError {",
            "Error<types::HttpValidationError>",
            "pub fn ping(&self)",
        ],
    );
}

#[test]
fn the_error_response_convention_can_be_asked_for_where_the_schema_is_missing() {
    let options = feather_codegen::Options {
        error_convention: feather_codegen::responses::ErrorConvention::Always,
        ..feather_codegen::Options::default()
    };
    let text = without_error_response().to_string();
    let source = match feather_codegen::generate_with(&text, &options) {
        Ok(generated) => generated.source,
        Err(error) => panic!("generation failed: {error}"),
    };
    assert_declares(
        &source,
        &[
            "pub struct ErrorResponse {",
            "pub error: ::std::string::String,",
            "Error<types::ErrorResponseOrHttpValidationError>",
        ],
    );
}

#[test]
fn unreadable_documents_fail_with_the_place_and_the_reason() {
    let error = generate("{\"openapi\": \"3.1.0\",").err();
    assert!(matches!(error, Some(CodegenError::Parse(_))), "{error:?}");

    let error = generate_value(json!({"openapi": "2.0", "info": {"title": "t", "version": "1"}}));
    assert!(matches!(error, Some(CodegenError::Convert(_))), "{error:?}");

    let error = generate_value(json!({"openapi": "3.1.0", "info": {"title": "t"}, "paths": {}}));
    assert_eq!(
        error.map(|e| e.to_string()),
        Some(
            "the converted document is not valid OpenAPI 3.0 at /info: missing field `version`"
                .to_owned()
        )
    );
}

#[test]
fn a_schema_the_converter_refuses_is_widened_not_fatal() {
    let (source, notes) = generate_fixture_text(&json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/s": {"get": {"operationId": "get_s", "responses": {"200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S"}}}
        }}}}},
        "components": {"schemas": {"S": {"type": "object", "properties": {
            "kind": {"type": "string", "if": {"const": "a"}, "then": {"minLength": 2}}
        }}}}
    }));
    assert!(source.contains("pub fn get_s(&self)"));
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("/components/schemas/S/properties/kind/if:")),
        "{notes:#?}"
    );
}

#[test]
fn an_operation_progenitor_refuses_is_left_out_with_a_note() {
    // Two operations with one id make progenitor refuse the document; the
    // second one is left out, the first generated.
    let generated = match feather_codegen::generate_from_value(json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "same", "responses": {"204": {"description": "ok"}}}},
            "/b": {"get": {"operationId": "same", "responses": {"204": {"description": "ok"}}}},
            "/c": {"get": {"operationId": "other", "responses": {"204": {"description": "ok"}}}}
        }
    })) {
        Ok(generated) => generated,
        Err(error) => panic!("generation failed: {error}"),
    };
    assert_eq!(generated.operations_total, 3);
    assert_eq!(generated.operations_generated, 2);
    assert_eq!(
        generated.summary(),
        "2 of 3 operations generated, 1 note(s)"
    );
    assert!(generated.source.contains("pub fn same(&self)"));
    assert!(generated.source.contains("pub fn other(&self)"));
    let notes: Vec<String> = generated.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        vec![
            "/paths/~1b/get: operation GET /b left out: progenitor cannot generate it: \
             unexpected or unhandled format in the OpenAPI document duplicate operation ID: same"
                .to_owned()
        ]
    );
}

fn generate_value(document: Value) -> Option<CodegenError> {
    feather_codegen::generate_from_value(document).err()
}

#[track_caller]
fn generate_fixture_text(document: &Value) -> (String, Vec<String>) {
    match feather_codegen::generate_from_value(document.clone()) {
        Ok(generated) => (
            generated.source,
            generated.notes.iter().map(ToString::to_string).collect(),
        ),
        Err(error) => panic!("generation failed: {error}"),
    }
}

/// The text of one item, from its declaration to the closing brace at the
/// same indentation.
#[track_caller]
fn type_body<'s>(source: &'s str, declaration: &str) -> &'s str {
    let Some(start) = source.find(declaration) else {
        panic!("no {declaration:?} in the generated source");
    };
    let indent = source[..start].rsplit('\n').next().unwrap_or("");
    let closing = format!("\n{indent}}}");
    let end = source[start..]
        .find(&closing)
        .map_or(source.len(), |offset| start + offset + closing.len());
    &source[start..end]
}

fn syn_parses(source: &str) -> bool {
    syn::parse_file(source).is_ok()
}

/// A FastAPI-shaped document with what FastAPI emits beyond JSON: the
/// runtime behaviour is proven against live FastAPI apps by
/// `xtask/tests/live_fastapi.rs`; these tests pin what is generated and
/// what the notes say.
fn fastapi_extras() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "extras", "version": "1"},
        "paths": {
            "/upload": {"post": {
                "operationId": "upload_upload_post",
                "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {
                    "$ref": "#/components/schemas/Body_upload_upload_post"
                }}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
            }},
            "/me": {"get": {
                "operationId": "me_me_get",
                "parameters": [
                    {"name": "session", "in": "cookie", "required": true, "schema": {"type": "string"}},
                    {"name": "theme", "in": "cookie", "required": false,
                     "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
            }},
            "/both": {"post": {
                "operationId": "both_both_post",
                "requestBody": {"content": {
                    "application/x-yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                }},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "204": {"description": "nothing"}
                }
            }}
        },
        "components": {"schemas": {
            "Body_upload_upload_post": {"type": "object", "required": ["files"], "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
            }},
            "Thing": {"type": "object", "required": ["code"], "properties": {
                "code": {"type": "string", "pattern": "^(?P<kind>[a-z]+)-(?P=kind)\\Z"},
                "odd": {"type": "string", "pattern": "(?<=a)b(?i)"},
                "count": {"type": "integer", "default": "0"},
                "mode": {"type": "string", "enum": ["a", 1, "b"]}
            }}
        }}
    })
}

#[test]
fn multipart_bodies_get_typed_files_and_a_multipart_send() {
    let (source, _) = generate_fixture_text(&fastapi_extras());
    assert_declares(
        &source,
        &[
            "pub fn upload(&self)",
            "pub struct FilePart {",
            "pub content: ::std::vec::Vec<u8>,",
            "pub files: ::std::vec::Vec<FilePart>,",
            "pub mod forms {",
            "pub fn upload(body: types::BodyUploadUploadPost)",
        ],
    );
    let send = send_fn(&source, "upload");
    assert!(
        send.contains(".multipart(super::forms::multipart("),
        "{send}"
    );
    assert!(!send.contains(".json(&body)"), "{send}");
}

#[test]
fn cookies_are_typed_setters_sent_in_one_cookie_header() {
    let (source, notes) = generate_fixture_text(&fastapi_extras());
    assert_declares(
        &source,
        &["pub fn me(&self)", "pub fn session<V>(", "pub fn theme<V>("],
    );
    let send = send_fn(&source, "me");
    assert!(
        send.contains(
            "cookies.push(format!(\"{}={}\",\"session\",super::parameter_text::text(&session)"
        ),
        "{send}"
    );
    assert!(
        send.contains("header_map.append(::reqwest::header::COOKIE,cookies.join(\";\")"),
        "{send}"
    );
    assert!(!notes.iter().any(|n| n.contains("left out")), "{notes:#?}");
}

#[test]
fn several_request_media_types_send_json_and_say_so() {
    let (_, notes) = generate_fixture_text(&fastapi_extras());
    assert!(
        notes.iter().any(|n| n
            == "/paths/~1both/post/requestBody: operation POST /both sends application/json; \
                also offered, not generated: application/x-yaml"),
        "{notes:#?}"
    );
}

#[test]
fn a_success_without_a_body_makes_the_result_optional() {
    let (source, notes) = generate_fixture_text(&fastapi_extras());
    assert!(source.contains("ResponseValue<::std::option::Option<types::Thing>>"));
    assert!(compact(&source).contains(
        "204u16=>{Ok(ResponseValue::new(::std::default::Default::default(),response.status(),response.headers().clone(),),)}"
    ));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("POST /both: success type is an Option"))
    );
}

#[test]
fn python_patterns_are_translated_or_dropped_and_bad_values_dropped() {
    let (source, notes) = generate_fixture_text(&fastapi_extras());
    // (?P<kind>...)(?P=kind)\Z -> (?<kind>...)\k<kind>$
    assert!(
        source.contains(r#"^(?<kind>[a-z]+)-\\k<kind>$"#),
        "translated pattern"
    );
    let notes = notes.join("\n");
    assert!(
        notes.contains("/components/schemas/Thing/properties/odd/pattern: pattern dropped"),
        "{notes}"
    );
    assert!(
        notes.contains("/components/schemas/Thing/properties/count/default: default \"0\" dropped"),
        "{notes}"
    );
    assert!(
        notes.contains("/components/schemas/Thing/properties/mode/enum: enum value(s) 1 dropped"),
        "{notes}"
    );
}

/// The `send()` of an operation's builder, without white space.
#[track_caller]
fn send_fn(source: &str, operation_id: &str) -> String {
    let marker = format!("operation_id: \"{operation_id}\"");
    let Some(at) = source.find(&marker) else {
        panic!("no {marker} in the generated source");
    };
    let start = source[..at].rfind("pub async fn send(").unwrap_or(0);
    let end = source[at..]
        .find("pub struct ")
        .map_or(source.len(), |end| at + end);
    compact(&source[start..end])
}

#[test]
fn malformed_operations_and_unknown_body_types_are_still_generated() {
    let generated = match feather_codegen::generate_from_value(json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "a", "responses": null}},
            "/b": {"get": {"operationId": "b", "responses": {"200": {"description": "ok", "content": null}}}},
            "/d": {"post": {
                "operationId": "d",
                "requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}},
                "responses": {"204": {"description": "ok"}}
            }}
        },
        "components": {"securitySchemes": {"m": {"type": "mutualTLS"}}}
    })) {
        Ok(generated) => generated,
        Err(error) => panic!("generation failed: {error}"),
    };
    assert_eq!(
        generated.summary(),
        "3 of 3 operations generated, 4 note(s)"
    );
    let send = send_fn(&generated.source, "d");
    assert!(
        send.contains("::reqwest::header::HeaderValue::from_static(\"application/xml\")"),
        "{send}"
    );
    let notes: Vec<String> = generated.notes.iter().map(ToString::to_string).collect();
    assert!(
        notes[0].starts_with("/paths/~1a/get/responses: replaced by an empty responses object")
    );
    assert!(
        notes[1].starts_with("/paths/~1b/get/responses/200/content: removed before conversion")
    );
    assert!(notes[2].starts_with("/components/securitySchemes/m: removed before conversion"));
    assert!(notes[3].contains("POST /d: the application/xml body is sent as given"));
}

/// FastAPI's renderings of the parameter and response constructs the
/// construct matrix found broken (xtask/tests/construct_matrix.rs runs them
/// live): a list header, a nullable path parameter, a union parameter, an
/// OPTIONS operation, a HEAD operation, JSON beside CSV.
fn fastapi_parameters() -> Value {
    let echo =
        json!({"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "parameters", "version": "1"},
        "paths": {
            "/tags": {"get": {"operationId": "tags", "parameters": [
                {"name": "x-tags", "in": "header", "required": false,
                 "schema": {"type": "array", "items": {"type": "string"}, "default": []}}
            ], "responses": echo}},
            "/things/{id_or_name}": {"get": {"operationId": "thing", "parameters": [
                {"name": "id_or_name", "in": "path", "required": true,
                 "schema": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "integer"}]}}
            ], "responses": echo}},
            "/notes/{slug}": {"get": {"operationId": "note", "parameters": [
                {"name": "slug", "in": "path", "required": true,
                 "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
            ], "responses": echo}},
            "/ping": {
                "options": {"operationId": "ping_options", "responses": echo},
                "head": {"operationId": "ping_head", "responses": echo}
            },
            "/report": {"get": {"operationId": "report", "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"type": "object", "properties": {"rows": {"type": "integer"}}}},
                "text/csv": {"schema": {"type": "string"}}
            }}}}}
        }
    })
}

#[test]
fn parameters_are_sent_as_fastapi_reads_them() {
    let (source, notes) = generate_fixture_text(&fastapi_parameters());
    assert!(syn_parses(&source));
    // One header line per list item, each rendered through serde.
    let send = send_fn(&source, "tags");
    assert!(
        send.contains("foriteminsuper::parameter_text::items(&value)"),
        "{send}"
    );
    assert!(source.contains("mod parameter_text {"));
    // A union of scalars is text; a nullable path parameter a plain value.
    assert_declares(
        &source,
        &[
            "pub fn id_or_name<V>(mut self, value: V) -> Self\n        where\n            V: std::convert::TryInto<::std::string::String>,",
            "pub fn slug<V>(mut self, value: V) -> Self\n        where\n            V: std::convert::TryInto<::std::string::String>,",
        ],
    );
    let send = send_fn(&source, "thing");
    assert!(
        send.contains("encode_path(&super::parameter_text::text(&id_or_name)"),
        "{send}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("parameter \"id_or_name\" accepts a union of scalars")),
        "{notes:#?}"
    );
    // reqwest has no options() or trace(): request(Method, url).
    let send = send_fn(&source, "ping_options");
    assert!(
        send.contains("request(::reqwest::Method::OPTIONS,url)"),
        "{send}"
    );
    // A HEAD answer has no body.
    let send = send_fn(&source, "ping_head");
    assert!(send.contains("ResponseValue<()>"), "{send}");
}

#[test]
fn json_beside_non_json_successes_are_decoded_by_content_type() {
    let (source, notes) = generate_fixture_text(&fastapi_parameters());
    let send = send_fn(&source, "report");
    assert!(
        send.contains("ResponseValue<super::content::JsonOr<types::ReportJson>>"),
        "{send}"
    );
    assert!(
        send.contains("super::content::decode(response).await"),
        "{send}"
    );
    assert_declares(
        &source,
        &[
            "pub mod content {",
            "pub enum JsonOr<T> {",
            "pub struct ReportJson {",
        ],
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("decoded by Content-Type into content::JsonOr<ReportJson>")),
        "{notes:#?}"
    );
}
