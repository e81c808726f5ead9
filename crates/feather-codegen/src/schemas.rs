//! Visiting every schema of a converted (OpenAPI 3.0.3) document, and
//! following `$ref`s between component schemas.

use serde_json::Value;

use crate::operations::METHODS;

/// Calls `visit` on every schema object of the document, parents before
/// their subschemas, with the schema's JSON pointer.
pub(crate) fn for_each_schema_mut(document: &mut Value, visit: &mut dyn FnMut(&mut Value, &str)) {
    let escape = openapi_compat::escape_pointer_token;
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let item_pointer = format!("/paths/{}", escape(path));
            if let Some(parameters) = item.get_mut("parameters") {
                parameters_schemas(parameters, &format!("{item_pointer}/parameters"), visit);
            }
            for method in METHODS {
                let Some(operation) = item.get_mut(method) else {
                    continue;
                };
                let pointer = format!("{item_pointer}/{method}");
                if let Some(parameters) = operation.get_mut("parameters") {
                    parameters_schemas(parameters, &format!("{pointer}/parameters"), visit);
                }
                if let Some(content) = operation.pointer_mut("/requestBody/content") {
                    content_schemas(content, &format!("{pointer}/requestBody/content"), visit);
                }
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                {
                    for (status, response) in responses.iter_mut() {
                        if let Some(content) = response.get_mut("content") {
                            let at = format!("{pointer}/responses/{}/content", escape(status));
                            content_schemas(content, &at, visit);
                        }
                    }
                }
            }
        }
    }
    let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        for (name, schema) in schemas.iter_mut() {
            walk_schema(
                schema,
                &format!("/components/schemas/{}", escape(name)),
                visit,
            );
        }
    }
    if let Some(parameters) = components
        .get_mut("parameters")
        .and_then(Value::as_object_mut)
    {
        for (name, parameter) in parameters.iter_mut() {
            if let Some(schema) = parameter.get_mut("schema") {
                let at = format!("/components/parameters/{}/schema", escape(name));
                walk_schema(schema, &at, visit);
            }
        }
    }
    for section in ["requestBodies", "responses"] {
        if let Some(entries) = components.get_mut(section).and_then(Value::as_object_mut) {
            for (name, entry) in entries.iter_mut() {
                if let Some(content) = entry.get_mut("content") {
                    let at = format!("/components/{section}/{}/content", escape(name));
                    content_schemas(content, &at, visit);
                }
            }
        }
    }
}

fn parameters_schemas(
    parameters: &mut Value,
    pointer: &str,
    visit: &mut dyn FnMut(&mut Value, &str),
) {
    let Some(parameters) = parameters.as_array_mut() else {
        return;
    };
    for (index, parameter) in parameters.iter_mut().enumerate() {
        if let Some(schema) = parameter.get_mut("schema") {
            walk_schema(schema, &format!("{pointer}/{index}/schema"), visit);
        }
    }
}

fn content_schemas(content: &mut Value, pointer: &str, visit: &mut dyn FnMut(&mut Value, &str)) {
    let Some(content) = content.as_object_mut() else {
        return;
    };
    for (media_type, entry) in content.iter_mut() {
        if let Some(schema) = entry.get_mut("schema") {
            let at = format!(
                "{pointer}/{}/schema",
                openapi_compat::escape_pointer_token(media_type)
            );
            walk_schema(schema, &at, visit);
        }
    }
}

/// Visits `schema` and its subschemas.
pub(crate) fn walk_schema(
    schema: &mut Value,
    pointer: &str,
    visit: &mut dyn FnMut(&mut Value, &str),
) {
    if !schema.is_object() {
        return;
    }
    visit(schema, pointer);
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for (keyword, sub) in object.iter_mut() {
        match keyword.as_str() {
            "properties" => {
                if let Some(properties) = sub.as_object_mut() {
                    for (name, property) in properties.iter_mut() {
                        let at = format!(
                            "{pointer}/properties/{}",
                            openapi_compat::escape_pointer_token(name)
                        );
                        walk_schema(property, &at, visit);
                    }
                }
            }
            "items" | "additionalProperties" | "not" => {
                walk_schema(sub, &format!("{pointer}/{keyword}"), visit);
            }
            "allOf" | "anyOf" | "oneOf" => {
                if let Some(branches) = sub.as_array_mut() {
                    for (index, branch) in branches.iter_mut().enumerate() {
                        walk_schema(branch, &format!("{pointer}/{keyword}/{index}"), visit);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The component a `$ref` names, if it names a component schema.
pub(crate) fn component_name(reference: &str) -> Option<String> {
    reference
        .strip_prefix("#/components/schemas/")
        .map(unescape)
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Resolves a schema that is a `$ref` to a component (following chains).
pub(crate) fn resolve<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    let mut current = schema;
    for _ in 0..16 {
        let Some(name) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(component_name)
        else {
            return current;
        };
        match document
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(&name))
        {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}
