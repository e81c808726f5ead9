//! Document-level rules and the walk that finds every schema.
//!
//! Schemas are only found by following the OpenAPI object structure (paths,
//! operations, parameters, media types, components), never by scanning for
//! keys: `examples` is a map in a media type but an array in a schema, and
//! only the latter is rewritten.

use serde_json::{Map, Value};

use crate::pointer::{child, index};
use crate::schema::{Cx, admits_null_31, convert_schema};
use crate::{ConvertError, Mode, Warning};

const OPERATION_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Converts a whole document in place.
pub(crate) fn convert_document(
    document: &mut Value,
    warnings: &mut Vec<Warning>,
    mode: Mode,
) -> Result<(), ConvertError> {
    let Value::Object(root) = document else {
        return Err(ConvertError::NotAnObject);
    };
    let version = root
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or(ConvertError::MissingVersion)?
        .trim()
        .to_owned();
    let is_31 = version.starts_with("3.1.") || version == "3.1";
    if !is_31 && !version.starts_with("3.0.") {
        return Err(ConvertError::UnsupportedVersion(version));
    }
    if mode == Mode::Normalize {
        // Only schemas are rewritten: the document keeps its version, its
        // webhooks and everything else 3.0 lacks.
        let mut walker = Walker {
            cx: Cx { warnings, mode },
        };
        return walker.root(root);
    }
    if is_31 {
        root.insert("openapi".into(), Value::String("3.0.3".into()));
    }

    root.remove("jsonSchemaDialect");
    if let Some(webhooks) = root.remove("webhooks")
        && webhooks.as_object().is_some_and(|hooks| !hooks.is_empty())
    {
        warnings.push(Warning {
            pointer: "/webhooks".into(),
            message: "webhooks dropped: OpenAPI 3.0 has no webhooks".into(),
        });
    }
    if let Some(Value::Object(info)) = root.get_mut("info") {
        info.remove("summary");
        if let Some(Value::Object(license)) = info.get_mut("license") {
            license.remove("identifier");
        }
    }
    if !root.contains_key("paths") {
        // 3.1 allows a document without paths; 3.0 requires the field.
        root.insert("paths".into(), Value::Object(Map::new()));
    }

    let mut walker = Walker {
        cx: Cx { warnings, mode },
    };
    walker.root(root)
}

struct Walker<'w> {
    cx: Cx<'w>,
}

impl Walker<'_> {
    /// `value` as an object; otherwise an error when converting, or (when
    /// normalizing) a warning and `None`: the value is read as absent.
    fn object<'v>(
        &mut self,
        value: &'v mut Value,
        pointer: &str,
        expected: &str,
    ) -> Result<Option<&'v mut Map<String, Value>>, ConvertError> {
        match value {
            Value::Object(map) => Ok(Some(map)),
            _ => self.cx.malformed(pointer, expected).map(|()| None),
        }
    }

    fn root(&mut self, root: &mut Map<String, Value>) -> Result<(), ConvertError> {
        if let Some(paths) = root.get_mut("paths")
            && let Some(paths) = self.object(paths, "/paths", "an object of path items")?
        {
            for (path, item) in paths.iter_mut() {
                self.path_item(item, &child("/paths", path))?;
            }
        }
        if let Some(components) = root.get_mut("components") {
            self.components(components)?;
        }
        Ok(())
    }

    fn path_item(&mut self, item: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(item) = self.object(item, pointer, "a path item object")? else {
            return Ok(());
        };
        if item.contains_key("$ref") {
            return Ok(());
        }
        if let Some(parameters) = item.get_mut("parameters") {
            self.parameter_list(parameters, &child(pointer, "parameters"))?;
        }
        for method in OPERATION_METHODS {
            if let Some(operation) = item.get_mut(method) {
                self.operation(operation, &child(pointer, method))?;
            }
        }
        Ok(())
    }

    fn operation(&mut self, operation: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(operation) = self.object(operation, pointer, "an operation object")? else {
            return Ok(());
        };
        if let Some(parameters) = operation.get_mut("parameters") {
            self.parameter_list(parameters, &child(pointer, "parameters"))?;
        }
        if let Some(body) = operation.get_mut("requestBody") {
            self.request_body(body, &child(pointer, "requestBody"))?;
        }
        if let Some(responses) = operation.get_mut("responses") {
            let pointer = child(pointer, "responses");
            let Some(responses) = self.object(responses, &pointer, "a responses object")? else {
                return Ok(());
            };
            for (status, response) in responses.iter_mut() {
                self.response(response, &child(&pointer, status))?;
            }
        }
        if let Some(callbacks) = operation.get_mut("callbacks") {
            let pointer = child(pointer, "callbacks");
            let Some(callbacks) = self.object(callbacks, &pointer, "a callbacks object")? else {
                return Ok(());
            };
            for (name, callback) in callbacks.iter_mut() {
                self.callback(callback, &child(&pointer, name))?;
            }
        }
        Ok(())
    }

    fn callback(&mut self, callback: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(callback) = self.object(callback, pointer, "a callback object")? else {
            return Ok(());
        };
        if callback.contains_key("$ref") {
            return Ok(());
        }
        for (expression, item) in callback.iter_mut() {
            self.path_item(item, &child(pointer, expression))?;
        }
        Ok(())
    }

    fn parameter_list(&mut self, list: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Value::Array(list) = list else {
            return self.cx.malformed(pointer, "an array of parameters");
        };
        for (position, parameter) in list.iter_mut().enumerate() {
            self.parameter(parameter, &index(pointer, position))?;
        }
        Ok(())
    }

    /// Parameters and headers share this shape: `schema` or `content`.
    fn parameter(&mut self, parameter: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(parameter) = self.object(parameter, pointer, "a parameter object")? else {
            return Ok(());
        };
        if parameter.contains_key("$ref") {
            return Ok(());
        }
        let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
        if let Some(schema) = parameter.get_mut("schema") {
            let drop_null = !required && admits_null_31(schema);
            convert_schema(schema, &child(pointer, "schema"), &mut self.cx)?;
            if drop_null && let Value::Object(schema) = schema {
                schema.remove("nullable");
            }
        }
        if let Some(content) = parameter.get_mut("content") {
            self.content(content, &child(pointer, "content"))?;
        }
        Ok(())
    }

    fn request_body(&mut self, body: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(body) = self.object(body, pointer, "a request body object")? else {
            return Ok(());
        };
        if body.contains_key("$ref") {
            return Ok(());
        }
        if let Some(content) = body.get_mut("content") {
            self.content(content, &child(pointer, "content"))?;
        }
        Ok(())
    }

    fn response(&mut self, response: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(response) = self.object(response, pointer, "a response object")? else {
            return Ok(());
        };
        if response.contains_key("$ref") {
            return Ok(());
        }
        if let Some(headers) = response.get_mut("headers") {
            self.headers(headers, &child(pointer, "headers"))?;
        }
        if let Some(content) = response.get_mut("content") {
            self.content(content, &child(pointer, "content"))?;
        }
        Ok(())
    }

    fn headers(&mut self, headers: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(headers) = self.object(headers, pointer, "an object of headers")? else {
            return Ok(());
        };
        for (name, header) in headers.iter_mut() {
            self.parameter(header, &child(pointer, name))?;
        }
        Ok(())
    }

    fn content(&mut self, content: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        let Some(content) = self.object(content, pointer, "an object of media types")? else {
            return Ok(());
        };
        for (media_type_name, media_type) in content.iter_mut() {
            let pointer = child(pointer, media_type_name);
            let Some(media_type) = self.object(media_type, &pointer, "a media type object")? else {
                continue;
            };
            if let Some(schema) = media_type.get_mut("schema") {
                convert_schema(schema, &child(&pointer, "schema"), &mut self.cx)?;
            }
            if let Some(encoding) = media_type.get_mut("encoding") {
                let pointer = child(&pointer, "encoding");
                let Some(encoding) = self.object(encoding, &pointer, "an object of encodings")?
                else {
                    continue;
                };
                for (property, entry) in encoding.iter_mut() {
                    let pointer = child(&pointer, property);
                    let Some(entry) = self.object(entry, &pointer, "an encoding object")? else {
                        continue;
                    };
                    if let Some(headers) = entry.get_mut("headers") {
                        self.headers(headers, &child(&pointer, "headers"))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn components(&mut self, components: &mut Value) -> Result<(), ConvertError> {
        let Some(components) = self.object(components, "/components", "a components object")?
        else {
            return Ok(());
        };
        if self.cx.mode == Mode::Convert
            && let Some(path_items) = components.remove("pathItems")
            && path_items
                .as_object()
                .is_some_and(|items| !items.is_empty())
        {
            self.cx.warnings.push(Warning {
                pointer: "/components/pathItems".into(),
                message: "reusable path items dropped: OpenAPI 3.0 has no components.pathItems"
                    .into(),
            });
        }
        for (section, entry) in components.iter_mut() {
            let pointer = child("/components", section);
            let walk_entry: fn(&mut Self, &mut Value, &str) -> Result<(), ConvertError> =
                match section.as_str() {
                    "schemas" => {
                        |walker, schema, pointer| convert_schema(schema, pointer, &mut walker.cx)
                    }
                    "responses" => Self::response,
                    "parameters" | "headers" => Self::parameter,
                    "requestBodies" => Self::request_body,
                    "callbacks" => Self::callback,
                    "securitySchemes" => Self::security_scheme,
                    _ => continue,
                };
            let Some(entries) = self.object(entry, &pointer, "an object of components")? else {
                continue;
            };
            for (name, value) in entries.iter_mut() {
                walk_entry(self, value, &child(&pointer, name))?;
            }
        }
        Ok(())
    }

    fn security_scheme(&mut self, scheme: &mut Value, pointer: &str) -> Result<(), ConvertError> {
        if self.cx.mode == Mode::Convert
            && scheme.get("type").and_then(Value::as_str) == Some("mutualTLS")
        {
            return Err(ConvertError::Inexpressible {
                pointer: child(pointer, "type"),
                keyword: "mutualTLS".into(),
                reason: "OpenAPI 3.0 has no mutual TLS security scheme".into(),
            });
        }
        // 3.0 requires `scopes` on every OAuth flow (an empty map is allowed);
        // 3.1 documents written by hand or by Litestar often leave it out.
        if let Some(Value::Object(flows)) = scheme.get_mut("flows") {
            for flow in flows.values_mut() {
                if let Value::Object(flow) = flow {
                    flow.entry("scopes")
                        .or_insert_with(|| Value::Object(Map::new()));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn malformed(pointer: &str, expected: &str) -> ConvertError {
    ConvertError::Malformed {
        pointer: pointer.to_owned(),
        expected: expected.to_owned(),
    }
}
