//! Request inputs: the API key extractor and the UUID path parameters.
//!
//! Both extractors never fail inside dropshot: they hand the raw input to the
//! handler, which answers 401 or a pydantic-shaped 422 in the platform's
//! bodies rather than dropshot's own.

use std::fmt;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExtractorMetadata, Header, HttpError, RequestContext,
    ServerContext, SharedExtractor,
};
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, LocItem, ValidationError};

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The `x-api-key` header as a schema: this is what declares the header in
/// each operation's metadata; [`crate::openapi_document`] turns that
/// declaration into the `APIKeyHeader` security requirement.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // only its schema is used
struct ApiKeyHeader {
    /// The caller's API key.
    #[serde(rename = "x-api-key")]
    x_api_key: Option<String>,
}

/// The API key a request presented, if any. Operations that take this
/// extractor require authentication (and are documented so).
#[derive(Clone)]
pub struct ApiKey(Option<String>);

impl ApiKey {
    /// A key value, as a client would send it.
    pub fn new(key: Option<String>) -> Self {
        ApiKey(key)
    }

    /// The presented key; `None` if the header is missing or not valid text.
    pub fn presented(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.0.is_some() {
            "<redacted>"
        } else {
            "<none>"
        };
        f.debug_tuple("ApiKey").field(&shown).finish()
    }
}

#[async_trait]
impl SharedExtractor for ApiKey {
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        let key = rqctx
            .request
            .headers()
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ApiKey(key))
    }

    fn metadata(body_content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Header<ApiKeyHeader> as SharedExtractor>::metadata(body_content_type)
    }
}

/// A path parameter documented as `string`/`uuid` that accepts any text, so
/// that a malformed value becomes a pydantic-shaped 422 naming the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UuidParam(String);

impl UuidParam {
    /// Wraps raw parameter text.
    pub fn new(raw: impl Into<String>) -> Self {
        UuidParam(raw.into())
    }

    /// The text as received.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// Parses the value, or describes why not as pydantic would for the
    /// path parameter `name`.
    pub fn parse(&self, name: &str) -> Result<Uuid, Box<ValidationError>> {
        Uuid::parse_str(&self.0).map_err(|e| {
            let reason = e.to_string();
            let mut ctx = Map::new();
            ctx.insert("error".into(), Value::String(reason.clone()));
            Box::new(ValidationError {
                loc: vec![LocItem::Name("path".into()), LocItem::Name(name.into())],
                msg: format!("Input should be a valid UUID, {reason}"),
                kind: "uuid_parsing".into(),
                input: Value::String(self.0.clone()),
                ctx,
            })
        })
    }
}

impl<'de> Deserialize<'de> for UuidParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(UuidParam)
    }
}

impl JsonSchema for UuidParam {
    fn schema_name() -> String {
        "Uuid".into()
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            format: Some("uuid".into()),
            ..Default::default()
        }
        .into()
    }
}

/// Path parameters of both operations.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct SourcePath {
    /// The knowledge base.
    pub kb_id: UuidParam,
    /// The connector source within it.
    pub source_id: UuidParam,
}

impl SourcePath {
    /// Both ids, or a 422 listing every malformed one.
    pub fn parse(&self) -> Result<(Uuid, Uuid), ApiError> {
        match (self.kb_id.parse("kb_id"), self.source_id.parse("source_id")) {
            (Ok(kb), Ok(source)) => Ok((kb, source)),
            (kb, source) => Err(ApiError::validation(
                [kb.err(), source.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| *e)
                    .collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_uuid_reads_like_pydantic() {
        let err = UuidParam::new("xx").parse("kb_id").err();
        let value = err.map(|e| serde_json::to_value(e).unwrap_or_default());
        assert_eq!(
            value,
            Some(json!({
                "loc": ["path", "kb_id"],
                "msg": "Input should be a valid UUID, invalid character: found `x` at 0",
                "type": "uuid_parsing",
                "input": "xx",
                "ctx": {"error": "invalid character: found `x` at 0"}
            }))
        );
    }

    #[test]
    fn both_bad_ids_are_reported_in_order() {
        let path = SourcePath {
            kb_id: UuidParam::new("nope"),
            source_id: UuidParam::new("1234"),
        };
        let Err(ApiError::Validation(v)) = path.parse() else {
            panic!("expected a validation error");
        };
        let locs: Vec<_> = v.detail.iter().map(|d| d.loc[1].clone()).collect();
        assert_eq!(
            locs,
            [
                LocItem::Name("kb_id".into()),
                LocItem::Name("source_id".into())
            ]
        );
    }

    #[test]
    fn valid_ids_parse_in_any_uuid_spelling() {
        let id = Uuid::new_v4();
        for text in [
            id.to_string(),
            id.simple().to_string(),
            id.urn().to_string(),
        ] {
            assert_eq!(UuidParam::new(text).parse("kb_id").ok(), Some(id));
        }
    }

    #[test]
    fn api_key_debug_never_shows_the_key() {
        let shown = format!("{:?}", ApiKey::new(Some("fth_secret".into())));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
