//! Defaults and enums that contradict their own schema.
//!
//! typify renders every `default` as Rust code of the property's type and
//! panics when it cannot ("The default value could not be rendered for this
//! type"); it also refuses enum values of the wrong JSON type. Real documents
//! have both: `default: "0"` on an integer, `default: {}` on a union of
//! objects, `enum: [1, "1"]` on a string. This pass checks every value
//! against its schema (following `$ref`s) and drops what does not fit, with
//! a note; a dropped default only means the client does not fill the value
//! in itself.

use serde_json::Value;

use crate::Note;
use crate::schemas::{for_each_schema_mut, resolve};

/// Drops defaults and enum values that do not conform to their schema.
pub(crate) fn drop_contradictions(document: &mut Value, notes: &mut Vec<Note>) {
    let reference = document.clone();
    for_each_schema_mut(document, &mut |schema, pointer| {
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let mut bare = schema.clone();
            if let Some(object) = bare.as_object_mut() {
                object.remove("enum");
                object.remove("default");
            }
            let (kept, dropped): (Vec<Value>, Vec<Value>) = values
                .iter()
                .cloned()
                .partition(|value| conforms(&reference, &bare, value, 0));
            if !dropped.is_empty()
                && let Some(object) = schema.as_object_mut()
            {
                let dropped_text: Vec<String> = dropped.iter().map(Value::to_string).collect();
                notes.push(Note {
                    pointer: format!("{pointer}/enum"),
                    message: format!(
                        "enum value(s) {} dropped: not of the schema's type",
                        dropped_text.join(", ")
                    ),
                });
                if kept.is_empty() {
                    object.remove("enum");
                } else {
                    object.insert("enum".into(), Value::Array(kept));
                }
            }
        }
        let Some(default) = schema.get("default").cloned() else {
            return;
        };
        let mut bare = schema.clone();
        if let Some(object) = bare.as_object_mut() {
            object.remove("default");
        }
        if !conforms(&reference, &bare, &default, 0)
            && let Some(object) = schema.as_object_mut()
        {
            object.remove("default");
            notes.push(Note {
                pointer: format!("{pointer}/default"),
                message: format!(
                    "default {} dropped: it does not conform to its schema",
                    truncate(&default.to_string())
                ),
            });
        }
    });
}

/// Whether `value` is an instance of `schema` (OpenAPI 3.0 subset: type,
/// nullable, enum, properties/required, items, allOf/anyOf/oneOf; formats
/// and string or number constraints are not checked).
pub(crate) fn conforms(document: &Value, schema: &Value, value: &Value, depth: usize) -> bool {
    if depth > 32 {
        return true;
    }
    let schema = resolve(document, schema);
    let Some(object) = schema.as_object() else {
        return true;
    };
    if value.is_null() && object.get("nullable") == Some(&Value::Bool(true)) {
        return true;
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        return false;
    }
    if let Some(branches) = object.get("allOf").and_then(Value::as_array)
        && !branches
            .iter()
            .all(|branch| conforms(document, branch, value, depth + 1))
    {
        return false;
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(branches) = object.get(keyword).and_then(Value::as_array)
            && !branches
                .iter()
                .any(|branch| conforms(document, branch, value, depth + 1))
        {
            return false;
        }
    }
    match object.get("type").and_then(Value::as_str) {
        None => true,
        Some("string") => value.is_string(),
        Some("integer") => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.as_array().is_some_and(|items| {
            object.get("items").is_none_or(|item_schema| {
                items
                    .iter()
                    .all(|item| conforms(document, item_schema, item, depth + 1))
            })
        }),
        Some("object") => value.as_object().is_some_and(|fields| {
            let required_present =
                object
                    .get("required")
                    .and_then(Value::as_array)
                    .is_none_or(|required| {
                        required
                            .iter()
                            .filter_map(Value::as_str)
                            .all(|name| fields.contains_key(name))
                    });
            let properties = object.get("properties").and_then(Value::as_object);
            let fields_conform = fields.iter().all(|(name, field)| {
                match properties.and_then(|properties| properties.get(name)) {
                    Some(property) => conforms(document, property, field, depth + 1),
                    None => object.get("additionalProperties") != Some(&Value::Bool(false)),
                }
            });
            required_present && fields_conform
        }),
        Some(_) => true,
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= 60 {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(57).collect();
    short.push_str("...");
    short
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::conforms;

    #[test]
    fn conformance_follows_refs_unions_and_nullability() {
        let document = json!({"components": {"schemas": {
            "Mode": {"type": "string", "enum": ["a", "b"]},
            "Pair": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}
        }}});
        let mode = json!({"$ref": "#/components/schemas/Mode"});
        assert!(conforms(&document, &mode, &json!("a"), 0));
        assert!(!conforms(&document, &mode, &json!("c"), 0));
        let pair = json!({"$ref": "#/components/schemas/Pair"});
        assert!(conforms(&document, &pair, &json!({"x": 1}), 0));
        assert!(!conforms(&document, &pair, &json!({}), 0));
        assert!(!conforms(&document, &pair, &json!({"x": "1"}), 0));
        let nullable = json!({"type": "integer", "nullable": true});
        assert!(conforms(&document, &nullable, &json!(null), 0));
        assert!(!conforms(&document, &nullable, &json!("0"), 0));
        let union = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
        assert!(conforms(&document, &union, &json!("x"), 0));
        assert!(!conforms(&document, &union, &json!(true), 0));
    }
}
