//! Down-conversion of OpenAPI 3.1 documents to OpenAPI 3.0.3.
//!
//! progenitor, and the `openapiv3` crate it parses with, accept only OpenAPI
//! 3.0.x. FastAPI emits 3.1.0, whose schemas are JSON Schema 2020-12:
//! `{"type": "null"}` branches instead of `nullable`, numeric
//! `exclusiveMinimum`, `const`, `examples`, tuples with `prefixItems`, and so
//! on. This crate rewrites such a document, as a [`serde_json::Value`], into the
//! 3.0.3 form that means the same thing to a client generator.
//!
//! The rules, each with a unit test in `tests/rules.rs`:
//!
//! | 3.1 construct | 3.0.3 form |
//! | --- | --- |
//! | `anyOf`/`oneOf` with a `{type: "null"}` branch | the other branch merged in (or `allOf: [{$ref}]` for a reference) and `nullable: true`; several other branches keep the union and gain `nullable` |
//! | `type: [T, "null"]` | `type: T`, `nullable: true` (several non-null types become an `anyOf`) |
//! | a bare `{type: "null"}` | `{enum: [null], nullable: true}` |
//! | `const: v` | `enum: [v]` |
//! | `examples: [a, ...]` on a schema | `example: a` |
//! | numeric `exclusiveMinimum`/`exclusiveMaximum` | `minimum`/`maximum` with the boolean flag |
//! | `contentEncoding: base64` / `contentMediaType` on a string | `format: byte` / `format: binary` |
//! | `prefixItems` | `items` of the shared item schema, or of their `anyOf` (with a warning) |
//! | `propertyNames`, `contains`, `unevaluated*`, `dependentRequired` | dropped with a warning (constraints, not types) |
//! | `$schema`, `$id`, `$comment`, `$anchor`, `jsonSchemaDialect`, `webhooks`, `info.summary`, `license.identifier` | dropped |
//! | an optional parameter's null branch | removed: a parameter that is absent is already "no value" |
//! | `$ref` with sibling keywords | `allOf: [{$ref}]` with the siblings |
//! | boolean schemas `true` / `false` | `{}` / `{not: {}}` |
//! | an OAuth flow without `scopes` | `scopes: {}` (required in 3.0) |
//!
//! Schemas without a type (e.g. FastAPI's `ValidationError.input`) stay "any".
//! What 3.0 cannot express and a generator would have to guess at
//! (`patternProperties`, `if`/`then`/`else`, `dependentSchemas`,
//! `$dynamicRef`, `$defs`) is a [`ConvertError`] naming the JSON pointer,
//! never a silently wrong type. The conversion is idempotent, and a 3.0
//! document passes through unchanged.
//!
//! [`normalize`] applies only the rewrites that keep the meaning, refusing
//! and dropping nothing: it is how `openapi-drift` reads 3.0 and 3.1
//! documents into one form.
//!
//! Architecture invariant: this crate does no I/O and prints nothing;
//! warnings come back as data in [`Conversion::warnings`].

mod parse;
mod pointer;
mod schema;
mod walk;

pub use parse::{ParseError, parse_document};
pub use pointer::escape_pointer_token;

use serde_json::Value;

/// The result of a successful conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The OpenAPI 3.0.3 document.
    pub document: Value,
    /// Constructs that were approximated or dropped, in document order.
    pub warnings: Vec<Warning>,
}

/// A construct the converter approximated: the output is still a correct
/// type, but a constraint was lost or widened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// JSON pointer into the input document.
    pub pointer: String,
    /// What was done, in one line.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

/// Why a document could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The root is not a JSON object.
    #[error("the document root is not a JSON object")]
    NotAnObject,
    /// The `openapi` field is missing or not a string.
    #[error("the document has no `openapi` version string")]
    MissingVersion,
    /// Neither 3.0.x nor 3.1.x.
    #[error("unsupported OpenAPI version {0:?}: expected 3.0.x or 3.1.x")]
    UnsupportedVersion(String),
    /// A construct that OpenAPI 3.0 cannot express without changing the type.
    #[error("cannot express `{keyword}` at {pointer} in OpenAPI 3.0: {reason}")]
    Inexpressible {
        /// JSON pointer into the input document.
        pointer: String,
        /// The offending keyword.
        keyword: String,
        /// Why it cannot be approximated safely.
        reason: String,
    },
    /// A value of the wrong JSON type where the specification requires another.
    #[error("malformed document at {pointer}: expected {expected}")]
    Malformed {
        /// JSON pointer into the input document.
        pointer: String,
        /// What the specification requires there.
        expected: String,
    },
}

/// Converts an OpenAPI 3.0.x or 3.1.x document to OpenAPI 3.0.3.
///
/// A 3.0.x document is returned unchanged (its version string included);
/// converting the output again changes nothing.
pub fn convert(mut document: Value) -> Result<Conversion, ConvertError> {
    let mut warnings = Vec::new();
    walk::convert_document(&mut document, &mut warnings, Mode::Convert)?;
    Ok(Conversion { document, warnings })
}

/// Rewrites only what means the same in 3.0 and 3.1, for reading both into
/// one form (the diff does): the nullability forms, `const`, numeric
/// exclusive bounds, `$ref` siblings, boolean schemas and the content
/// keywords' format (the keywords stay) become their 3.0 spelling.
/// Nothing is refused or dropped: `if`/`then`/`else`, `prefixItems`,
/// `patternProperties`, `propertyNames`, `contains`, `dependent*`,
/// `unevaluated*` and `$defs` stay, their subschemas normalized too, and the
/// version string is kept. A value of the wrong JSON type where an object
/// belongs (`responses: null`) is read as absent, with a [`Warning`] naming
/// it. Fails only when the root is not an OpenAPI 3.0/3.1 object.
pub fn normalize(mut document: Value) -> Result<Conversion, ConvertError> {
    let mut warnings = Vec::new();
    walk::convert_document(&mut document, &mut warnings, Mode::Normalize)?;
    Ok(Conversion { document, warnings })
}

/// Which of the two rewrites runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`convert`]: to OpenAPI 3.0.3, refusing what 3.0 cannot express.
    Convert,
    /// [`normalize`]: meaning-preserving rewrites only, never refusing.
    Normalize,
}
