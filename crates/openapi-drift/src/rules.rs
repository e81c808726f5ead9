//! Every rule id the diff can report, in one table.
//!
//! Ids follow oasdiff's naming where oasdiff has the rule. The severity of a
//! finding is decided where it is found (it depends on direction), so the
//! table lists what each rule means rather than one fixed level. Schema
//! rules come in families `{side}-{subject}-{change}`: every [`CHANGES`]
//! entry for request parameters, bodies and properties and for response
//! bodies, properties and headers.

use std::sync::LazyLock;

/// A rule the diff can report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// What it detects.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($id:literal => $summary:literal,)+) => {
        /// The rules outside the schema families.
        const FIXED: &[Rule] = &[$(Rule { id: $id, summary: $summary },)+];
    };
}

/// The schema changes each `{side}-{subject}` family has, with what they
/// mean (`it` is the parameter, body, property or header).
pub const CHANGES: &[(&str, &str)] = &[
    ("type-changed", "its type changed"),
    (
        "format-changed",
        "its format changed (judged by the client's Rust type)",
    ),
    ("became-nullable", "it accepts or may hold null"),
    ("became-not-nullable", "it no longer accepts or holds null"),
    ("enum-value-added", "its enum gained a value"),
    ("enum-value-removed", "its enum lost a value"),
    ("enum-added", "it became restricted to an enum"),
    ("enum-removed", "it is no longer restricted to an enum"),
    (
        "variants-changed",
        "the number of its oneOf/anyOf/allOf variants changed",
    ),
    ("max-length-set", "maxLength set"),
    ("max-length-unset", "maxLength removed"),
    ("max-length-increased", "maxLength increased"),
    ("max-length-decreased", "maxLength decreased"),
    ("min-length-set", "minLength set"),
    ("min-length-unset", "minLength removed"),
    ("min-length-increased", "minLength increased"),
    ("min-length-decreased", "minLength decreased"),
    ("max-items-set", "maxItems set"),
    ("max-items-unset", "maxItems removed"),
    ("max-items-increased", "maxItems increased"),
    ("max-items-decreased", "maxItems decreased"),
    ("min-items-set", "minItems set"),
    ("min-items-unset", "minItems removed"),
    ("min-items-increased", "minItems increased"),
    ("min-items-decreased", "minItems decreased"),
    ("max-properties-set", "maxProperties set"),
    ("max-properties-unset", "maxProperties removed"),
    ("max-properties-increased", "maxProperties increased"),
    ("max-properties-decreased", "maxProperties decreased"),
    ("min-properties-set", "minProperties set"),
    ("min-properties-unset", "minProperties removed"),
    ("min-properties-increased", "minProperties increased"),
    ("min-properties-decreased", "minProperties decreased"),
    ("max-set", "maximum set"),
    ("max-unset", "maximum removed"),
    ("max-increased", "maximum increased"),
    ("max-decreased", "maximum decreased"),
    ("min-set", "minimum set"),
    ("min-unset", "minimum removed"),
    ("min-increased", "minimum increased"),
    ("min-decreased", "minimum decreased"),
    ("exclusive-max-set", "exclusive maximum set"),
    ("exclusive-max-unset", "exclusive maximum removed"),
    (
        "exclusive-max-increased",
        "exclusive maximum increased (or made inclusive)",
    ),
    (
        "exclusive-max-decreased",
        "exclusive maximum decreased (or made exclusive)",
    ),
    ("exclusive-min-set", "exclusive minimum set"),
    ("exclusive-min-unset", "exclusive minimum removed"),
    (
        "exclusive-min-increased",
        "exclusive minimum increased (or made exclusive)",
    ),
    (
        "exclusive-min-decreased",
        "exclusive minimum decreased (or made inclusive)",
    ),
    ("multiple-of-set", "multipleOf set"),
    ("multiple-of-unset", "multipleOf removed"),
    ("multiple-of-changed", "multipleOf changed"),
    ("unique-items-set", "items must be unique"),
    ("unique-items-unset", "items may repeat"),
    ("pattern-added", "a pattern is set"),
    ("pattern-removed", "the pattern is removed"),
    ("pattern-changed", "the pattern changed"),
    (
        "content-media-type-changed",
        "contentMediaType/contentEncoding changed",
    ),
    ("default-value-added", "a default value is set"),
    ("default-value-removed", "the default value is removed"),
    ("default-value-changed", "the default value changed"),
    (
        "additional-properties-tightened",
        "fewer additional properties are allowed",
    ),
    (
        "additional-properties-loosened",
        "more additional properties are allowed",
    ),
    ("discriminator-added", "a discriminator is set"),
    ("discriminator-removed", "the discriminator is removed"),
    (
        "discriminator-property-name-changed",
        "the discriminator's property changed",
    ),
    (
        "discriminator-mapping-changed",
        "the discriminator's mapping changed",
    ),
    (
        "dependent-required-tightened",
        "dependentRequired demands more",
    ),
    (
        "dependent-required-loosened",
        "dependentRequired demands less",
    ),
    ("contains-set", "contains (min/maxContains) set"),
    ("contains-unset", "contains (min/maxContains) removed"),
    ("contains-changed", "contains (min/maxContains) changed"),
    ("property-names-set", "propertyNames set"),
    ("property-names-unset", "propertyNames removed"),
    ("property-names-changed", "propertyNames changed"),
    ("unevaluated-properties-set", "unevaluatedProperties set"),
    (
        "unevaluated-properties-unset",
        "unevaluatedProperties removed",
    ),
    (
        "unevaluated-properties-changed",
        "unevaluatedProperties changed",
    ),
    ("unevaluated-items-set", "unevaluatedItems set"),
    ("unevaluated-items-unset", "unevaluatedItems removed"),
    ("unevaluated-items-changed", "unevaluatedItems changed"),
    ("if-then-else-set", "if/then/else set"),
    ("if-then-else-unset", "if/then/else removed"),
    ("if-then-else-changed", "if/then/else changed"),
    ("dependent-schemas-set", "dependentSchemas set"),
    ("dependent-schemas-unset", "dependentSchemas removed"),
    ("dependent-schemas-changed", "dependentSchemas changed"),
    ("pattern-properties-set", "patternProperties set"),
    ("pattern-properties-unset", "patternProperties removed"),
    ("pattern-properties-changed", "patternProperties changed"),
    ("not-set", "not set"),
    ("not-unset", "not removed"),
    ("not-changed", "not changed"),
    ("prefix-items-length-changed", "the tuple's length changed"),
];

/// The `{side}-{subject}` families.
pub const FAMILIES: &[&str] = &[
    "request-parameter",
    "request-body",
    "request-property",
    "response-body",
    "response-property",
    "response-header",
];

/// All rules: the fixed ones, then every family's.
pub static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let mut rules = FIXED.to_vec();
    for family in FAMILIES {
        for (change, summary) in CHANGES {
            // Built once per process: leaking gives the `'static` ids.
            rules.push(Rule {
                id: String::leak(format!("{family}-{change}")),
                summary: String::leak(format!("{family}: {summary}")),
            });
        }
    }
    rules
});

rules! {
    "api-removed-without-deprecation" => "an operation (method + path shape) is gone without having been deprecated",
    "api-removed-before-sunset" => "a deprecated operation is gone before its x-sunset date",
    "api-removed-after-deprecation" => "a deprecated operation is gone (after its x-sunset date, if any)",
    "endpoint-deprecated" => "an operation is now deprecated",
    "endpoint-reactivated" => "an operation is no longer deprecated",
    "malformed-value-ignored" => "the new document has a value of the wrong type (e.g. `responses: null`) where an object belongs; it is read as absent",
    "operation-added" => "a new operation",
    "operation-id-changed" => "operationId changed: generated clients rename the method",
    "operation-tags-changed" => "tags changed",
    "operation-security-changed" => "the security requirements changed",
    "security-scheme-removed" => "a security scheme component is gone",
    "security-scheme-changed" => "a security scheme's type, location or name changed",
    "request-parameter-removed" => "a parameter is no longer declared",
    "new-required-request-parameter" => "a new required parameter",
    "new-optional-request-parameter" => "a new optional parameter",
    "request-parameter-became-required" => "an optional parameter became required",
    "request-parameter-became-optional" => "a required parameter became optional",
    "request-parameter-location-changed" => "a parameter moved to another location (`in`)",
    "request-parameter-style-changed" => "a parameter's serialization style changed",
    "request-parameter-explode-changed" => "a parameter's explode setting changed",
    "request-parameter-deprecated" => "a parameter is now deprecated",
    "request-body-added" => "a request body is now declared",
    "request-body-removed" => "the request body is no longer declared",
    "request-body-became-required" => "the request body became required",
    "request-body-became-optional" => "the request body became optional",
    "request-media-type-removed" => "a request media type is no longer accepted",
    "request-media-type-added" => "a request media type is accepted",
    "request-property-removed" => "a request property is no longer declared",
    "new-required-request-property" => "a new required request property",
    "new-optional-request-property" => "a new optional request property",
    "request-property-became-required" => "a request property became required",
    "request-property-became-optional" => "a request property became optional",
    "request-property-deprecated" => "a request property is now deprecated",
    "request-property-read-only-changed" => "a request property became or stopped being readOnly",
    "request-property-write-only-changed" => "a request property became or stopped being writeOnly",
    "response-success-status-removed" => "a 2xx status is no longer returned",
    "response-success-status-added" => "a new 2xx status",
    "response-non-success-status-removed" => "an error status is no longer documented",
    "response-non-success-status-added" => "a new error status (or range) is documented",
    "response-media-type-removed" => "a response media type is gone",
    "response-media-type-added" => "a new response media type",
    "response-required-property-removed" => "a required response property is gone",
    "response-optional-property-removed" => "an optional response property is gone",
    "response-required-property-added" => "a new required response property",
    "response-optional-property-added" => "a new optional response property",
    "response-property-became-optional" => "a response property may now be absent",
    "response-property-became-required" => "a response property is now always present",
    "response-property-deprecated" => "a response property is now deprecated",
    "response-property-read-only-changed" => "a response property became or stopped being readOnly",
    "response-property-write-only-changed" => "a response property became or stopped being writeOnly",
    "response-header-added" => "a response header is newly documented",
    "required-response-header-removed" => "a required response header is gone",
    "optional-response-header-removed" => "an optional response header is gone",
    "response-header-became-optional" => "a response header may now be absent",
    "response-header-became-required" => "a response header is now always sent",
    "schema-ref-changed" => "a reference now points at a different named schema",
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    static BY_ID: LazyLock<std::collections::HashMap<&'static str, &'static Rule>> =
        LazyLock::new(|| RULES.iter().map(|r| (r.id, r)).collect());
    BY_ID.get(id).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES.iter() {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()),
                "{}",
                r.id
            );
        }
    }
}
