//! The schema rules: JSON Schema 2020-12 (OpenAPI 3.1) to the OpenAPI 3.0
//! schema object.
//!
//! A schema is converted bottom-up: its subschemas first, then its own
//! keywords, and last the removal of `null` branches from `anyOf`/`oneOf`,
//! which may merge an already converted branch into its parent.

use serde_json::{Map, Value, json};

use crate::pointer::{child, index};
use crate::walk::malformed;
use crate::{ConvertError, Mode, Warning};

/// What a schema rewrite needs besides the schema: where warnings go and
/// whether 3.0-inexpressible constructs are refused or kept.
pub(crate) struct Cx<'w> {
    pub(crate) warnings: &'w mut Vec<Warning>,
    pub(crate) mode: Mode,
}

impl Cx<'_> {
    fn keeps(&self) -> bool {
        self.mode == Mode::Normalize
    }

    /// A malformed value: an error when converting; when normalizing, a
    /// warning naming it, and the value is read as absent.
    pub(crate) fn malformed(&mut self, pointer: &str, expected: &str) -> Result<(), ConvertError> {
        match self.mode {
            Mode::Convert => Err(malformed(pointer, expected)),
            Mode::Normalize => {
                self.warnings.push(Warning {
                    pointer: pointer.to_owned(),
                    message: format!("expected {expected}; read as absent"),
                });
                Ok(())
            }
        }
    }
}

/// Keywords that describe a schema without constraining it.
const ANNOTATIONS: [&str; 8] = [
    "title",
    "description",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Keywords dropped without a word: they mean nothing to a 3.0 consumer.
const SILENTLY_DROPPED: [&str; 5] = ["$schema", "$id", "$comment", "$anchor", "$vocabulary"];

/// Constraints 3.0 cannot state; dropping them widens what is accepted but
/// never changes a generated type.
const DROPPED_WITH_WARNING: [&str; 8] = [
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicAnchor",
];

/// Keywords whose loss would change the type a generator derives.
const INEXPRESSIBLE: [(&str, &str); 7] = [
    (
        "patternProperties",
        "the value type of keys matching a pattern has no 3.0 form",
    ),
    ("if", "conditional schemas have no 3.0 form"),
    ("then", "conditional schemas have no 3.0 form"),
    ("else", "conditional schemas have no 3.0 form"),
    (
        "dependentSchemas",
        "schemas that depend on a property's presence have no 3.0 form",
    ),
    ("$dynamicRef", "dynamic references have no 3.0 form"),
    (
        "$defs",
        "local definitions must move to components.schemas first",
    ),
];

/// Converts one schema (and everything below it) in place.
///
/// In [`Mode::Normalize`] only the rewrites that keep the meaning are made:
/// what 3.0 cannot express stays as it is (its subschemas normalized too),
/// and a malformed value is a warning instead of an error.
pub(crate) fn convert_schema(
    schema: &mut Value,
    pointer: &str,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    let map = match schema {
        Value::Bool(true) => {
            *schema = json!({});
            return Ok(());
        }
        Value::Bool(false) => {
            *schema = json!({"not": {}});
            return Ok(());
        }
        Value::Object(map) => map,
        _ => return cx.malformed(pointer, "a schema (an object or a boolean)"),
    };

    if map.contains_key("$ref") {
        return convert_reference(map, pointer, cx);
    }

    if !cx.keeps() {
        for (keyword, reason) in INEXPRESSIBLE {
            if map.contains_key(keyword) {
                return Err(ConvertError::Inexpressible {
                    pointer: child(pointer, keyword),
                    keyword: keyword.into(),
                    reason: reason.into(),
                });
            }
        }
    }

    convert_subschemas(map, pointer, cx)?;

    for keyword in SILENTLY_DROPPED {
        map.remove(keyword);
    }
    if !cx.keeps() {
        for keyword in DROPPED_WITH_WARNING {
            if map.remove(keyword).is_some() {
                cx.warnings.push(Warning {
                    pointer: child(pointer, keyword),
                    message: format!(
                        "`{keyword}` dropped: OpenAPI 3.0 cannot state this constraint"
                    ),
                });
            }
        }
        convert_prefix_items(map, pointer, cx)?;
    }
    convert_type_array(map, pointer, cx)?;
    convert_const(map);
    convert_examples(map, pointer, cx.warnings);
    convert_exclusive_bound(
        map,
        "exclusiveMinimum",
        "minimum",
        pointer,
        |a, b| a >= b,
        cx,
    )?;
    convert_exclusive_bound(
        map,
        "exclusiveMaximum",
        "maximum",
        pointer,
        |a, b| a <= b,
        cx,
    )?;
    convert_content_keywords(map, cx.keeps());
    remove_null_branches(map, pointer, cx)?;
    Ok(())
}

/// Whether a (not yet converted) schema admits `null` through a 3.1
/// construct: a null branch or a `null` in a type list.
pub(crate) fn admits_null_31(schema: &Value) -> bool {
    let unions = ["anyOf", "oneOf"].iter().any(|union| {
        schema
            .get(union)
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.iter().any(is_null_schema))
    });
    let type_list = schema
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("null")));
    unions || type_list
}

/// A 3.1 `$ref` may carry sibling keywords; 3.0 ignores them, so a
/// reference with constraining siblings becomes `allOf: [{$ref}]`.
fn convert_reference(
    map: &mut Map<String, Value>,
    pointer: &str,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    // 3.0 ignores a reference's siblings; only pure annotations may stay.
    let has_meaningful_siblings = map
        .keys()
        .any(|key| !matches!(key.as_str(), "$ref" | "summary" | "description" | "title"));
    if !has_meaningful_siblings {
        map.remove("summary");
        return Ok(());
    }
    let reference = map.remove("$ref").unwrap_or(Value::Null);
    let mut wrapper = Value::Object(std::mem::take(map));
    if let Value::Object(wrapper_map) = &mut wrapper {
        wrapper_map.insert("allOf".into(), json!([{ "$ref": reference }]));
    }
    convert_schema(&mut wrapper, pointer, cx)?;
    if let Value::Object(wrapper_map) = wrapper {
        *map = wrapper_map;
    }
    Ok(())
}

fn convert_subschemas(
    map: &mut Map<String, Value>,
    pointer: &str,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    // Maps of name → schema.
    let maps: &[&str] = if cx.keeps() {
        &[
            "properties",
            "patternProperties",
            "dependentSchemas",
            "$defs",
        ]
    } else {
        &["properties"]
    };
    for keyword in maps {
        if let Some(entries) = map.get_mut(*keyword) {
            let pointer = child(pointer, keyword);
            let Value::Object(entries) = entries else {
                let expected = if *keyword == "properties" {
                    "an object of property schemas"
                } else {
                    "an object of schemas"
                };
                cx.malformed(&pointer, expected)?;
                map.remove(*keyword);
                continue;
            };
            for (name, entry) in entries.iter_mut() {
                convert_schema(entry, &child(&pointer, name), cx)?;
            }
        }
    }
    if let Some(additional) = map.get_mut("additionalProperties")
        && additional.is_object()
    {
        convert_schema(additional, &child(pointer, "additionalProperties"), cx)?;
    }
    match map.get_mut("items") {
        Some(Value::Array(_)) => {
            cx.malformed(
                &child(pointer, "items"),
                "a single schema (use prefixItems for tuples)",
            )?;
            map.remove("items");
        }
        Some(Value::Bool(true)) => {
            map.insert("items".into(), json!({}));
        }
        Some(items @ Value::Object(_)) => {
            convert_schema(items, &child(pointer, "items"), cx)?;
        }
        _ => {}
    }
    for keyword in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(branches) = map.get_mut(keyword) {
            let pointer = child(pointer, keyword);
            let Value::Array(branches) = branches else {
                cx.malformed(&pointer, "an array of schemas")?;
                map.remove(keyword);
                continue;
            };
            for (position, branch) in branches.iter_mut().enumerate() {
                convert_schema(branch, &index(&pointer, position), cx)?;
            }
        }
    }
    // Single subschemas; in conversion mode only `not` reaches here (the
    // others were refused or are dropped afterwards).
    let singles: &[&str] = if cx.keeps() {
        &[
            "not",
            "if",
            "then",
            "else",
            "propertyNames",
            "contains",
            "unevaluatedItems",
            "unevaluatedProperties",
        ]
    } else {
        &["not"]
    };
    for keyword in singles {
        if let Some(schema) = map.get_mut(*keyword)
            && (schema.is_object() || schema.is_boolean())
        {
            convert_schema(schema, &child(pointer, keyword), cx)?;
        }
    }
    Ok(())
}

/// `prefixItems` (a tuple) becomes `items` of the one schema every position
/// shares, or of the union of the positions, which widens the type.
fn convert_prefix_items(
    map: &mut Map<String, Value>,
    pointer: &str,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    let Some(prefix) = map.remove("prefixItems") else {
        return Ok(());
    };
    let Value::Array(positions) = prefix else {
        return Err(malformed(
            &child(pointer, "prefixItems"),
            "an array of schemas",
        ));
    };
    let n_positions = positions.len();
    let mut alternatives: Vec<Value> = Vec::new();
    for position in positions {
        if !alternatives.contains(&position) {
            alternatives.push(position);
        }
    }
    match map.remove("items") {
        // `items: false` closes the tuple: no elements beyond the prefix.
        Some(Value::Bool(false)) => {
            map.entry("maxItems").or_insert_with(|| json!(n_positions));
        }
        Some(rest @ Value::Object(_)) if !alternatives.contains(&rest) => {
            alternatives.push(rest);
        }
        _ => {}
    }
    let items = match alternatives.len() {
        0 => json!({}),
        1 => alternatives.remove(0),
        _ => {
            cx.warnings.push(Warning {
                pointer: child(pointer, "prefixItems"),
                message: format!(
                    "tuple of {n_positions} positions widened to an array of their union: \
                     OpenAPI 3.0 has no tuples"
                ),
            });
            json!({ "anyOf": alternatives })
        }
    };
    map.insert("items".into(), items);
    Ok(())
}

/// `type: [T, "null"]` becomes `type: T` with `nullable: true`; several
/// non-null types become an `anyOf` of single-type schemas.
fn convert_type_array(
    map: &mut Map<String, Value>,
    pointer: &str,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    if map.get("type").and_then(Value::as_str) == Some("null") {
        map.remove("type");
        map.insert("enum".into(), json!([null]));
        map.insert("nullable".into(), json!(true));
        return Ok(());
    }
    let Some(Value::Array(types)) = map.get("type") else {
        return Ok(());
    };
    let mut nullable = false;
    let mut names = Vec::new();
    for entry in types {
        match entry.as_str() {
            Some("null") => nullable = true,
            Some(name) => names.push(name.to_owned()),
            None => return cx.malformed(&child(pointer, "type"), "type names as strings"),
        }
    }
    match names.as_slice() {
        [] => {
            map.remove("type");
            map.insert("enum".into(), json!([null]));
        }
        [single] => {
            map.insert("type".into(), json!(single));
        }
        several => {
            if map.contains_key("anyOf") {
                if cx.keeps() {
                    // Kept as a list: the diff compares type lists itself.
                    return Ok(());
                }
                return Err(ConvertError::Inexpressible {
                    pointer: child(pointer, "type"),
                    keyword: "type".into(),
                    reason: "a list of types beside an existing anyOf".into(),
                });
            }
            map.remove("type");
            let branches: Vec<Value> = several.iter().map(|name| json!({ "type": name })).collect();
            map.insert("anyOf".into(), Value::Array(branches));
        }
    }
    if nullable {
        map.insert("nullable".into(), json!(true));
    }
    Ok(())
}

/// `const: v` becomes the one-value enumeration `enum: [v]`.
fn convert_const(map: &mut Map<String, Value>) {
    if let Some(constant) = map.remove("const") {
        if constant.is_null() {
            map.insert("nullable".into(), json!(true));
        }
        map.insert("enum".into(), Value::Array(vec![constant]));
    }
}

/// A schema's `examples` array becomes its single `example` (the first).
fn convert_examples(map: &mut Map<String, Value>, pointer: &str, warnings: &mut Vec<Warning>) {
    match map.remove("examples") {
        Some(Value::Array(mut examples))
            if !examples.is_empty() && !map.contains_key("example") =>
        {
            map.insert("example".into(), examples.swap_remove(0));
        }
        Some(_) => warnings.push(Warning {
            pointer: child(pointer, "examples"),
            message: "`examples` that is not an array dropped".into(),
        }),
        None => {}
    }
}

/// A numeric `exclusiveMinimum: n` becomes `minimum: n` with
/// `exclusiveMinimum: true`, unless an inclusive `minimum` is already the
/// tighter bound (then the looser exclusive one is dropped).
fn convert_exclusive_bound(
    map: &mut Map<String, Value>,
    exclusive_key: &str,
    inclusive_key: &str,
    pointer: &str,
    inclusive_is_tighter: fn(f64, f64) -> bool,
    cx: &mut Cx<'_>,
) -> Result<(), ConvertError> {
    let Some(exclusive) = map.get(exclusive_key) else {
        return Ok(());
    };
    if exclusive.is_boolean() {
        return Ok(());
    }
    let Some(exclusive_number) = exclusive.as_f64() else {
        map.remove(exclusive_key);
        return cx.malformed(&child(pointer, exclusive_key), "a number or a boolean");
    };
    let exclusive = exclusive.clone();
    let inclusive = map.get(inclusive_key).and_then(Value::as_f64);
    match inclusive {
        Some(inclusive)
            if inclusive_is_tighter(inclusive, exclusive_number)
                && inclusive != exclusive_number =>
        {
            map.remove(exclusive_key);
        }
        _ => {
            map.insert(inclusive_key.into(), exclusive);
            map.insert(exclusive_key.into(), json!(true));
        }
    }
    Ok(())
}

/// `contentEncoding: base64` marks base64 text (`format: byte`); a
/// `contentMediaType` without an encoding marks raw bytes (`format: binary`).
/// `keep` leaves the two keywords beside the format.
fn convert_content_keywords(map: &mut Map<String, Value>, keep: bool) {
    let (encoding, media_type) = if keep {
        (
            map.get("contentEncoding").cloned(),
            map.get("contentMediaType").cloned(),
        )
    } else {
        (
            map.remove("contentEncoding"),
            map.remove("contentMediaType"),
        )
    };
    if encoding.is_none() && media_type.is_none() {
        return;
    }
    let is_string = map
        .get("type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "string");
    if !is_string || map.contains_key("format") {
        return;
    }
    let format = match encoding.as_ref().and_then(Value::as_str) {
        Some("base64" | "base64url") => "byte",
        _ => "binary",
    };
    map.insert("type".into(), json!("string"));
    map.insert("format".into(), json!(format));
}

/// Whether a (converted or not) schema admits only `null`.
fn is_null_schema(schema: &Value) -> bool {
    let Value::Object(map) = schema else {
        return false;
    };
    let only_null = match (map.get("type"), map.get("enum"), map.get("const")) {
        (Some(Value::String(t)), None, None) => t == "null",
        (Some(Value::Array(types)), None, None) => types == &[json!("null")],
        (None, Some(Value::Array(values)), None) => values == &[Value::Null],
        (None, None, Some(Value::Null)) => true,
        _ => false,
    };
    only_null
        && map.keys().all(|key| {
            matches!(key.as_str(), "type" | "enum" | "const" | "nullable")
                || ANNOTATIONS.contains(&key.as_str())
        })
}

/// Drops `null` branches from `anyOf`/`oneOf` and marks the schema
/// `nullable`. One remaining branch is merged into the parent (a reference
/// is wrapped in `allOf`); several keep the union.
fn remove_null_branches(
    map: &mut Map<String, Value>,
    pointer: &str,
    cx: &Cx<'_>,
) -> Result<(), ConvertError> {
    for union in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = map.get(union) else {
            continue;
        };
        if !branches.iter().any(is_null_schema) {
            continue;
        }
        let mut remaining: Vec<Value> = branches
            .iter()
            .filter(|branch| !is_null_schema(branch))
            .cloned()
            .collect();
        if remaining.is_empty() {
            if map.contains_key("type") {
                if cx.keeps() {
                    continue;
                }
                return Err(ConvertError::Inexpressible {
                    pointer: child(pointer, union),
                    keyword: union.into(),
                    reason: "a typed schema whose only alternative is null".into(),
                });
            }
            map.remove(union);
            map.insert("enum".into(), json!([null]));
            map.insert("nullable".into(), json!(true));
            continue;
        }
        if remaining.len() > 1 {
            map.insert(union.into(), Value::Array(remaining));
            map.insert("nullable".into(), json!(true));
            continue;
        }
        let branch = remaining.remove(0);
        let mergeable = match &branch {
            Value::Object(branch_map) => {
                !branch_map.contains_key("$ref")
                    && branch_map.iter().all(|(key, value)| {
                        ANNOTATIONS.contains(&key.as_str())
                            || map.get(key).is_none_or(|existing| existing == value)
                    })
            }
            _ => false,
        };
        if !mergeable && map.contains_key("allOf") {
            if cx.keeps() {
                continue;
            }
            return Err(ConvertError::Inexpressible {
                pointer: child(pointer, union),
                keyword: union.into(),
                reason: "a nullable alternative beside an existing allOf".into(),
            });
        }
        let mut merged = Map::new();
        for (key, value) in std::mem::take(map) {
            if key != union {
                merged.insert(key, value);
                continue;
            }
            if mergeable {
                if let Value::Object(branch_map) = &branch {
                    for (branch_key, branch_value) in branch_map {
                        // The parent's own title and description describe
                        // the property; the branch's describe the type.
                        if !merged.contains_key(branch_key) {
                            merged.insert(branch_key.clone(), branch_value.clone());
                        }
                    }
                }
            } else {
                merged.insert("allOf".into(), Value::Array(vec![branch.clone()]));
            }
        }
        merged.insert("nullable".into(), json!(true));
        *map = merged;
    }
    Ok(())
}
