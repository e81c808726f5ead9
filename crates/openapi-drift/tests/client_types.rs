//! The table of Rust types the diff judges formats by
//! ([`openapi_drift::CLIENT_TYPES`]) against what `feather-codegen`
//! really generates: one property per row in one document, one test per
//! row reading its field's type from the generated source, and one test
//! per row that a format change away from it is judged by that type.

use std::sync::LazyLock;

use openapi_drift::{CLIENT_TYPES, ClientType, Severity, diff};
use serde_json::{Value, json};

fn schema(row: &ClientType) -> Value {
    let mut schema = json!({"type": row.json_type});
    if let Some(f) = row.format {
        schema["format"] = json!(f);
    }
    if let Some(m) = row.minimum {
        schema["minimum"] = json!(m);
    }
    schema
}

/// A response whose object has property `f{i}` for row `i`.
fn document(schemas: impl Iterator<Item = Value>) -> Value {
    let mut properties = serde_json::Map::new();
    for (i, s) in schemas.enumerate() {
        properties.insert(format!("f{i}"), s);
    }
    let names: Vec<String> = properties.keys().cloned().collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "types", "version": "1"},
        "paths": {"/t": {"get": {
            "operationId": "get_t",
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Row"}
            }}}}
        }}},
        "components": {"schemas": {"Row": {
            "type": "object",
            "required": names,
            "properties": properties
        }}}
    })
}

/// The generated client, without white space.
static SOURCE: LazyLock<String> = LazyLock::new(|| {
    let generated = feather_codegen::generate_from_value(document(CLIENT_TYPES.iter().map(schema)))
        .unwrap_or_else(|e| panic!("codegen failed: {e}"));
    assert!(generated.notes.is_empty(), "{:?}", generated.notes);
    generated.source.split_whitespace().collect()
});

fn check_generated(i: usize) {
    let row = &CLIENT_TYPES[i];
    let field = format!("pubf{i}:{},", row.rust);
    assert!(
        SOURCE.contains(&field),
        "row {row:?}: no `pub f{i}: {}` in the generated client",
        row.rust
    );
}

/// A format change from this row to each other row of the same JSON type
/// is breaking on the response side exactly when this row's Rust type
/// cannot hold that row's values; checked by the diff on a one-property
/// document.
fn check_judged(i: usize) {
    let row = &CLIENT_TYPES[i];
    for (j, other) in CLIENT_TYPES.iter().enumerate() {
        if other.json_type != row.json_type || i == j || other.format == row.format {
            continue;
        }
        let (old, new) = (
            document(std::iter::once(schema(row))),
            document(std::iter::once(schema(other))),
        );
        let found = diff(&old, &new).unwrap_or_else(|e| panic!("{e}"));
        let worst = found.iter().map(|f| f.severity).max();
        let holds = holds_by_name(row, other);
        assert_eq!(
            worst == Some(Severity::Breaking),
            !holds,
            "{} → {}: {found:#?}",
            describe(row),
            describe(other)
        );
    }
}

fn describe(row: &ClientType) -> String {
    format!(
        "{} {} ({})",
        row.json_type,
        row.format.unwrap_or("-"),
        row.rust
    )
}

/// Independent statement of which Rust type holds which other row's
/// values: the old row's Rust type by its range, the new row's values by
/// its format's range (a format-less integer: i64's, the pipeline's
/// fallback) cut by its minimum.
fn holds_by_name(old: &ClientType, new: &ClientType) -> bool {
    let rust_range = |rust: &str| -> Option<(i128, i128)> {
        Some(match rust.trim_start_matches("::std::num::") {
            "i8" => (i8::MIN.into(), i8::MAX.into()),
            "u8" => (0, u8::MAX.into()),
            "i16" => (i16::MIN.into(), i16::MAX.into()),
            "u16" => (0, u16::MAX.into()),
            "i32" => (i32::MIN.into(), i32::MAX.into()),
            "u32" => (0, u32::MAX.into()),
            "i64" => (i64::MIN.into(), i64::MAX.into()),
            "u64" => (0, u64::MAX.into()),
            "NonZeroU32" => (1, u32::MAX.into()),
            "NonZeroU64" => (1, u64::MAX.into()),
            _ => return None,
        })
    };
    let values = |row: &ClientType| -> (i128, i128) {
        let (lo, hi) = match row.format {
            Some("int8") => (i8::MIN.into(), i8::MAX.into()),
            Some("uint8") => (0, u8::MAX.into()),
            Some("int16") => (i16::MIN.into(), i16::MAX.into()),
            Some("uint16") => (0, u16::MAX.into()),
            Some("int32") => (i32::MIN.into(), i32::MAX.into()),
            Some("uint32") => (0, u32::MAX.into()),
            Some("uint64") => (0, u64::MAX.into()),
            _ => (i64::MIN.into(), i64::MAX.into()),
        };
        (row.minimum.map_or(lo, |m| lo.max(m as i128)), hi)
    };
    match (old.rust, new.rust) {
        ("::std::string::String", _) | ("f64", _) | ("f32", _) => true,
        ("::std::net::IpAddr", "::std::net::Ipv4Addr" | "::std::net::Ipv6Addr") => true,
        (a, b) if a == b => true,
        (a, _) if new.json_type == "integer" => rust_range(a).is_some_and(|(alo, ahi)| {
            let (blo, bhi) = values(new);
            alo <= blo && bhi <= ahi
        }),
        _ => false,
    }
}

macro_rules! per_row {
    ($($i:literal => $generated:ident, $judged:ident;)+) => {
        $(
            #[test]
            fn $generated() {
                check_generated($i);
            }
            #[test]
            fn $judged() {
                check_judged($i);
            }
        )+
        #[test]
        fn every_row_has_its_tests() {
            assert_eq!(CLIENT_TYPES.len(), [$($i),+].len());
        }
    };
}

per_row! {
    0 => generated_string, judged_string;
    1 => generated_date_time, judged_date_time;
    2 => generated_date, judged_date;
    3 => generated_uuid, judged_uuid;
    4 => generated_ip, judged_ip;
    5 => generated_ipv4, judged_ipv4;
    6 => generated_ipv6, judged_ipv6;
    7 => generated_email, judged_email;
    8 => generated_int8, judged_int8;
    9 => generated_uint8, judged_uint8;
    10 => generated_int16, judged_int16;
    11 => generated_uint16, judged_uint16;
    12 => generated_int32, judged_int32;
    13 => generated_uint32, judged_uint32;
    14 => generated_int64, judged_int64;
    15 => generated_uint64, judged_uint64;
    16 => generated_int32_min_1, judged_int32_min_1;
    17 => generated_integer, judged_integer;
    18 => generated_integer_min_0, judged_integer_min_0;
    19 => generated_integer_min_1, judged_integer_min_1;
    20 => generated_float, judged_float;
    21 => generated_double, judged_double;
    22 => generated_number, judged_number;
    23 => generated_boolean, judged_boolean;
}
