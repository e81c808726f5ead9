//! Every rule id the diff can report, in one table.
//!
//! Ids follow oasdiff's naming where oasdiff has the rule. The severity of a
//! finding is decided where it is found (it depends on direction), so the
//! table lists what each rule means rather than one fixed level.

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
        /// All rules.
        pub const RULES: &[Rule] = &[$(Rule { id: $id, summary: $summary },)+];
    };
}

rules! {
    "operation-removed" => "an operation (method + path shape) is gone",
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
    "request-parameter-type-changed" => "a parameter's type changed",
    "request-parameter-format-changed" => "a parameter's format changed",
    "request-parameter-became-nullable" => "a parameter accepts null",
    "request-parameter-became-not-nullable" => "a parameter no longer accepts null",
    "request-parameter-enum-value-added" => "a parameter accepts a new enum value",
    "request-parameter-enum-value-removed" => "a parameter no longer accepts an enum value",
    "request-parameter-enum-added" => "a parameter became restricted to an enum",
    "request-parameter-enum-removed" => "a parameter is no longer restricted to an enum",
    "request-parameter-variants-changed" => "a parameter's oneOf/anyOf variants changed",
    "request-body-added" => "a request body is now declared",
    "request-body-removed" => "the request body is no longer declared",
    "request-body-became-required" => "the request body became required",
    "request-body-became-optional" => "the request body became optional",
    "request-media-type-removed" => "a request media type is no longer accepted",
    "request-media-type-added" => "a request media type is accepted",
    "request-body-type-changed" => "the request body's type changed",
    "request-body-format-changed" => "the request body's format changed",
    "request-body-became-nullable" => "the request body accepts null",
    "request-body-became-not-nullable" => "the request body no longer accepts null",
    "request-body-enum-value-added" => "the request body accepts a new enum value",
    "request-body-enum-value-removed" => "the request body no longer accepts an enum value",
    "request-body-enum-added" => "the request body became restricted to an enum",
    "request-body-enum-removed" => "the request body is no longer restricted to an enum",
    "request-body-variants-changed" => "the request body's oneOf/anyOf variants changed",
    "request-property-removed" => "a request property is no longer declared",
    "new-required-request-property" => "a new required request property",
    "new-optional-request-property" => "a new optional request property",
    "request-property-became-required" => "a request property became required",
    "request-property-became-optional" => "a request property became optional",
    "request-property-type-changed" => "a request property's type changed",
    "request-property-format-changed" => "a request property's format changed",
    "request-property-became-nullable" => "a request property accepts null",
    "request-property-became-not-nullable" => "a request property no longer accepts null",
    "request-property-enum-value-added" => "a request property accepts a new enum value",
    "request-property-enum-value-removed" => "a request property no longer accepts an enum value",
    "request-property-enum-added" => "a request property became restricted to an enum",
    "request-property-enum-removed" => "a request property is no longer restricted to an enum",
    "request-property-variants-changed" => "a request property's oneOf/anyOf variants changed",
    "response-success-status-removed" => "a 2xx status is no longer returned",
    "response-success-status-added" => "a new 2xx status",
    "response-non-success-status-removed" => "an error status is no longer documented",
    "response-non-success-status-added" => "a new error status (or range) is documented",
    "response-media-type-removed" => "a response media type is gone",
    "response-media-type-added" => "a new response media type",
    "response-body-type-changed" => "the response body's type changed",
    "response-body-format-changed" => "the response body's format changed",
    "response-body-became-nullable" => "the response body may be null",
    "response-body-became-not-nullable" => "the response body is never null",
    "response-body-enum-value-added" => "the response body may hold a new enum value",
    "response-body-enum-value-removed" => "the response body no longer holds an enum value",
    "response-body-enum-added" => "the response body became restricted to an enum",
    "response-body-enum-removed" => "the response body is no longer restricted to an enum",
    "response-body-variants-changed" => "the response body's oneOf/anyOf variants changed",
    "response-required-property-removed" => "a required response property is gone",
    "response-optional-property-removed" => "an optional response property is gone",
    "response-required-property-added" => "a new required response property",
    "response-optional-property-added" => "a new optional response property",
    "response-property-became-optional" => "a response property may now be absent",
    "response-property-became-required" => "a response property is now always present",
    "response-property-type-changed" => "a response property's type changed",
    "response-property-format-changed" => "a response property's format changed",
    "response-property-became-nullable" => "a response property may now be null",
    "response-property-became-not-nullable" => "a response property is never null now",
    "response-property-enum-value-added" => "a response property may hold a new enum value",
    "response-property-enum-value-removed" => "a response property no longer holds an enum value",
    "response-property-enum-added" => "a response property became restricted to an enum",
    "response-property-enum-removed" => "a response property is no longer restricted to an enum",
    "response-property-variants-changed" => "a response property's oneOf/anyOf variants changed",
    "schema-ref-changed" => "a reference now points at a different named schema",
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
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
