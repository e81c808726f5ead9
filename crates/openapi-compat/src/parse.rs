//! Reading a document from text: JSON, or YAML when it is not JSON.

use serde_json::Value;

/// The text is neither a JSON nor a YAML document.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text looked like JSON (it starts with `{`) but did not parse.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The text did not parse as YAML.
    #[error("invalid YAML: {0}")]
    Yaml(String),
}

/// Parses an OpenAPI document written as JSON or YAML.
///
/// Text whose first non-blank character is `{` is read as JSON (so a JSON
/// error is reported as one); anything else is read as YAML. Object key
/// order is kept.
pub fn parse_document(text: &str) -> Result<Value, ParseError> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|error| ParseError::Json {
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })
    } else {
        serde_norway::from_str(text).map_err(|error| ParseError::Yaml(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_yaml_alike() {
        let json = parse_document(r#"{"openapi": "3.1.0", "b": 1, "a": [true]}"#).ok();
        let yaml = parse_document("openapi: 3.1.0\nb: 1\na:\n  - true\n").ok();
        assert!(json.is_some());
        assert_eq!(json, yaml);
        let keys: Vec<String> = json
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default();
        assert_eq!(keys, ["openapi", "b", "a"]);
    }

    #[test]
    fn reports_json_errors_with_a_position() {
        let error = parse_document("{\n  \"openapi\": }")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid JSON at line 2, column 14: expected value at line 2 column 14")
        );
        assert!(matches!(
            parse_document("a: [unclosed"),
            Err(ParseError::Yaml(_))
        ));
    }
}
