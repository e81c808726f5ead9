//! Redundant defaults, which typify cannot always carry.
//!
//! FastAPI writes `default: null` beside every optional field. In the
//! generated types such a field is an `Option`, whose default is already
//! `None`, so the keyword adds nothing; and typify rejects it on bounded
//! numbers ("value does not conform to the given schema"). Likewise a
//! pydantic `Literal` field is `const: v, default: v` (after conversion a
//! one-value `enum`), and typify rejects that default on the tag of a
//! discriminated union. Both are removed from every schema.

use serde_json::Value;

/// Removes `default: null`, and a default that is the only value its enum
/// allows, from every object in the document.
pub(crate) fn drop_redundant_defaults(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let redundant = object.get("default").is_some_and(|default| {
                default.is_null()
                    || object
                        .get("enum")
                        .and_then(Value::as_array)
                        .is_some_and(|values| values.len() == 1 && &values[0] == default)
            });
            if redundant {
                object.remove("default");
            }
            for child in object.values_mut() {
                drop_redundant_defaults(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_redundant_defaults),
        _ => {}
    }
}

/// Removes every schema `default` (values of properties named `default`
/// are schemas, not defaults, and stay); returns how many were removed.
pub(crate) fn drop_all_defaults(value: &mut Value) -> usize {
    let mut n_dropped = 0;
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if key == "properties" {
                    if let Value::Object(properties) = child {
                        for property in properties.values_mut() {
                            n_dropped += drop_all_defaults(property);
                        }
                    }
                } else {
                    n_dropped += drop_all_defaults(child);
                }
            }
            if object.remove("default").is_some() {
                n_dropped += 1;
            }
        }
        Value::Array(items) => {
            for item in items {
                n_dropped += drop_all_defaults(item);
            }
        }
        _ => {}
    }
    n_dropped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn drops_every_default_but_keeps_properties_named_default() {
        let mut schema = json!({
            "default": {},
            "properties": {
                "default": {"type": "string", "default": "x"},
                "n": {"type": "integer", "default": 3}
            }
        });
        assert_eq!(drop_all_defaults(&mut schema), 3);
        assert_eq!(
            schema,
            json!({"properties": {"default": {"type": "string"}, "n": {"type": "integer"}}})
        );
    }

    #[test]
    fn removes_only_redundant_defaults() {
        let mut schema = json!({
            "properties": {
                "a": {"type": "integer", "minimum": 1, "nullable": true, "default": null},
                "view": {"type": "string", "enum": ["full"], "default": "full"},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "b": {"type": "integer", "default": 3},
                "default": {"type": "string", "default": "x"}
            }
        });
        drop_redundant_defaults(&mut schema);
        assert_eq!(
            schema,
            json!({
                "properties": {
                    "a": {"type": "integer", "minimum": 1, "nullable": true},
                    "view": {"type": "string", "enum": ["full"]},
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                    "b": {"type": "integer", "default": 3},
                    "default": {"type": "string", "default": "x"}
                }
            })
        );
    }
}
