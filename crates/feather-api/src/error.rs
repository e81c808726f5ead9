//! Error bodies: upstream's `ErrorResponse` for every error but validation,
//! and FastAPI/pydantic's `HTTPValidationError` for 422.

use std::fmt;

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::Schema;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// Standard error response returned by all API error handlers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    /// Machine-readable code, e.g. `authentication_required`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
}

/// FastAPI's validation error body (status 422).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename = "HTTPValidationError")]
pub struct HttpValidationError {
    /// One entry per invalid input.
    #[serde(default)]
    pub detail: Vec<ValidationError>,
}

/// One invalid input, in pydantic's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationError {
    /// Where the input is: e.g. `["path", "kb_id"]`.
    pub loc: Vec<LocItem>,
    /// Human-readable explanation.
    pub msg: String,
    /// pydantic's error type, e.g. `uuid_parsing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending input, verbatim.
    #[serde(default)]
    pub input: Value,
    /// Extra detail about the error.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub ctx: Map<String, Value>,
}

/// One step of a validation error's location: a name or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LocItem {
    /// A parameter or field name, or the location (`path`, `query`, `body`).
    Name(String),
    /// An index into an array.
    Index(i64),
}

/// Every error an operation answers with.
///
/// The body is [`ErrorResponse`] for every status but 422, which carries an
/// [`HttpValidationError`]. The emitted OpenAPI document says exactly that:
/// `4XX`/`5XX` reference `ErrorResponse` and each operation with parameters
/// declares `422` explicitly (see [`crate::openapi_document`]).
#[derive(Debug)]
pub enum ApiError {
    /// A non-validation error.
    Status {
        /// HTTP status (4xx or 5xx).
        status: ErrorStatusCode,
        /// The body sent to the client.
        body: ErrorResponse,
        /// Detail for the server log only (never sent).
        internal: Option<String>,
    },
    /// Invalid input (422).
    Validation(HttpValidationError),
}

/// Message of a 401, as the upstream platform words it.
pub const AUTHENTICATION_REQUIRED_MESSAGE: &str =
    "No valid API key was provided. Pass your key in the x-api-key header.";

impl ApiError {
    fn status(status: ErrorStatusCode, error: &str, message: impl Into<String>) -> Self {
        ApiError::Status {
            status,
            body: ErrorResponse {
                error: error.to_owned(),
                message: message.into(),
            },
            internal: None,
        }
    }

    /// 401 `authentication_required`: the key is missing, unknown or revoked.
    pub fn authentication_required() -> Self {
        Self::status(
            ErrorStatusCode::UNAUTHORIZED,
            "authentication_required",
            AUTHENTICATION_REQUIRED_MESSAGE,
        )
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::status(ErrorStatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 with the given code: the request conflicts with the current state.
    pub fn conflict(error: &str, message: impl Into<String>) -> Self {
        Self::status(ErrorStatusCode::CONFLICT, error, message)
    }

    /// 500 `internal_error`; `internal` goes to the log, never to the client.
    pub fn internal(internal: impl Into<String>) -> Self {
        ApiError::Status {
            status: ErrorStatusCode::INTERNAL_SERVER_ERROR,
            body: ErrorResponse {
                error: "internal_error".into(),
                message: "The server could not complete the request.".into(),
            },
            internal: Some(internal.into()),
        }
    }

    /// 503 `service_unavailable`; `internal` goes to the log only.
    pub fn unavailable(internal: impl Into<String>) -> Self {
        ApiError::Status {
            status: ErrorStatusCode::SERVICE_UNAVAILABLE,
            body: ErrorResponse {
                error: "service_unavailable".into(),
                message: "The service is temporarily unavailable; retry shortly.".into(),
            },
            internal: Some(internal.into()),
        }
    }

    /// 422 with the given entries.
    pub fn validation(detail: Vec<ValidationError>) -> Self {
        ApiError::Validation(HttpValidationError { detail })
    }

    /// The `ErrorResponse` body, if this is not a validation error.
    pub fn body(&self) -> Option<&ErrorResponse> {
        match self {
            ApiError::Status { body, .. } => Some(body),
            ApiError::Validation(_) => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status {
                body,
                internal: Some(internal),
                ..
            } => write!(f, "{}: {internal}", body.error),
            ApiError::Status { body, .. } => write!(f, "{}: {}", body.error, body.message),
            ApiError::Validation(v) => {
                write!(f, "validation error:")?;
                for d in &v.detail {
                    write!(f, " {}", d.msg)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ApiError {}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ApiError::Status { body, .. } => body.serialize(serializer),
            ApiError::Validation(v) => v.serialize(serializer),
        }
    }
}

/// Documented as `ErrorResponse`: that is the body of every `4XX`/`5XX` the
/// document declares through this type. 422 is declared separately.
impl JsonSchema for ApiError {
    fn schema_name() -> String {
        ErrorResponse::schema_name()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<ErrorResponse>()
    }
}

impl HttpResponseError for ApiError {
    fn status_code(&self) -> ErrorStatusCode {
        match self {
            ApiError::Status { status, .. } => *status,
            ApiError::Validation(_) => ErrorStatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Errors dropshot raises itself (extractors, body limits) keep their status
/// and get an `ErrorResponse` body with a snake_case code for that status.
impl From<HttpError> for ApiError {
    fn from(e: HttpError) -> Self {
        let error = match e.status_code.as_u16() {
            400 => "bad_request",
            401 => "authentication_required",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            406 => "not_acceptable",
            408 => "request_timeout",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            503 => "service_unavailable",
            s if s >= 500 => "internal_error",
            _ => "client_error",
        };
        ApiError::Status {
            status: e.status_code,
            body: ErrorResponse {
                error: error.to_owned(),
                message: e.external_message,
            },
            internal: Some(e.internal_message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_errors_serialize_as_error_response() {
        let e = ApiError::authentication_required();
        assert_eq!(e.status_code().as_u16(), 401);
        assert_eq!(
            serde_json::to_value(&e).ok(),
            Some(
                json!({"error": "authentication_required", "message": AUTHENTICATION_REQUIRED_MESSAGE})
            )
        );
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let e = ApiError::internal("disk I/O error at /var/lib/feather.db");
        let body = serde_json::to_string(&e).unwrap_or_default();
        assert!(!body.contains("/var/lib"), "{body}");
        assert!(e.to_string().contains("/var/lib"), "the log keeps it");
        assert_eq!(e.status_code().as_u16(), 500);
    }

    #[test]
    fn validation_errors_serialize_in_pydantic_shape() {
        let e = ApiError::validation(vec![ValidationError {
            loc: vec![LocItem::Name("path".into()), LocItem::Name("kb_id".into())],
            msg: "Input should be a valid UUID".into(),
            kind: "uuid_parsing".into(),
            input: json!("xx"),
            ctx: Map::new(),
        }]);
        assert_eq!(e.status_code().as_u16(), 422);
        assert_eq!(
            serde_json::to_value(&e).ok(),
            Some(
                json!({"detail": [{"loc": ["path", "kb_id"], "msg": "Input should be a valid UUID", "type": "uuid_parsing", "input": "xx"}]})
            )
        );
    }

    #[test]
    fn dropshot_errors_keep_their_status() {
        let e = ApiError::from(HttpError::for_bad_request(None, "bad header".into()));
        assert_eq!(e.status_code().as_u16(), 400);
        assert_eq!(e.body().map(|b| b.error.as_str()), Some("bad_request"));
    }
}
