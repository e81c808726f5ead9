//! What the generated client makes of a scalar schema: the Rust type
//! `feather-codegen` (progenitor and typify) gives it, and the values the
//! schema declares. A format or bound change is judged by these two, not by
//! the format's name: on the response side the old Rust type must hold every
//! value the new schema allows; on the request side the new schema must
//! accept every value the old one allowed.

use serde_json::Value;

/// One row of [`CLIENT_TYPES`]: a JSON type, a format (and, for integers,
/// the bounds that decide the type), and the Rust type the client uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientType {
    /// `type` of the schema.
    pub json_type: &'static str,
    /// `format`, if any.
    pub format: Option<&'static str>,
    /// `minimum`, for the integer rows where it picks the type.
    pub minimum: Option<f64>,
    /// The Rust type in the generated client, as typify spells it.
    pub rust: &'static str,
}

const fn row(
    json_type: &'static str,
    format: Option<&'static str>,
    minimum: Option<f64>,
    rust: &'static str,
) -> ClientType {
    ClientType {
        json_type,
        format,
        minimum,
        rust,
    }
}

/// Every type/format pair the pipeline gives its own Rust type, and the
/// fallbacks. Any other string format (`email`, `uri`, `byte`, `binary` in a
/// JSON body, ...) is a `String`; a string without a recognised format but
/// with `maxLength`, `minLength` or `pattern` is a newtype that validates
/// them when it is deserialized.
///
/// | type | format | minimum | Rust type |
/// |---|---|---|---|
/// | string | — | — | `String` (a validating newtype with length or pattern) |
/// | string | `date-time` | — | `chrono::DateTime<Utc>` |
/// | string | `date` | — | `chrono::NaiveDate` |
/// | string | `uuid` | — | `uuid::Uuid` |
/// | string | `ip` | — | `std::net::IpAddr` |
/// | string | `ipv4` | — | `std::net::Ipv4Addr` |
/// | string | `ipv6` | — | `std::net::Ipv6Addr` |
/// | string | `email` (any other) | — | `String` |
/// | integer | `int8` / `uint8` | — | `i8` / `u8` |
/// | integer | `int16` / `uint16` | — | `i16` / `u16` |
/// | integer | `int32` / `uint32` | — | `i32` / `u32` |
/// | integer | `int64` / `uint64` | — | `i64` / `u64` |
/// | integer | `int32` | 1 | `NonZeroU32` |
/// | integer | — | — | `i64` |
/// | integer | — | 0 | `u64` |
/// | integer | — | 1 | `NonZeroU64` |
/// | number | `float` | — | `f32` |
/// | number | `double` / — | — | `f64` |
/// | boolean | — | — | `bool` |
pub const CLIENT_TYPES: &[ClientType] = &[
    row("string", None, None, "::std::string::String"),
    row(
        "string",
        Some("date-time"),
        None,
        "::chrono::DateTime<::chrono::offset::Utc>",
    ),
    row("string", Some("date"), None, "::chrono::naive::NaiveDate"),
    row("string", Some("uuid"), None, "::uuid::Uuid"),
    row("string", Some("ip"), None, "::std::net::IpAddr"),
    row("string", Some("ipv4"), None, "::std::net::Ipv4Addr"),
    row("string", Some("ipv6"), None, "::std::net::Ipv6Addr"),
    row("string", Some("email"), None, "::std::string::String"),
    row("integer", Some("int8"), None, "i8"),
    row("integer", Some("uint8"), None, "u8"),
    row("integer", Some("int16"), None, "i16"),
    row("integer", Some("uint16"), None, "u16"),
    row("integer", Some("int32"), None, "i32"),
    row("integer", Some("uint32"), None, "u32"),
    row("integer", Some("int64"), None, "i64"),
    row("integer", Some("uint64"), None, "u64"),
    row(
        "integer",
        Some("int32"),
        Some(1.0),
        "::std::num::NonZeroU32",
    ),
    row("integer", None, None, "i64"),
    row("integer", None, Some(0.0), "u64"),
    row("integer", None, Some(1.0), "::std::num::NonZeroU64"),
    row("number", Some("float"), None, "f32"),
    row("number", Some("double"), None, "f64"),
    row("number", None, None, "f64"),
    row("boolean", None, None, "bool"),
];

/// Integer formats typify knows: name, Rust type, the non-zero type used
/// for `minimum: 1`, and the range. In typify's order (most restrictive
/// first).
const INTEGERS: &[(&str, &str, &str, f64, f64)] = &[
    ("int8", "i8", "NonZeroU8", i8::MIN as f64, i8::MAX as f64),
    ("uint8", "u8", "NonZeroU8", 0.0, u8::MAX as f64),
    (
        "int16",
        "i16",
        "NonZeroU16",
        i16::MIN as f64,
        i16::MAX as f64,
    ),
    ("uint16", "u16", "NonZeroU16", 0.0, u16::MAX as f64),
    ("int", "i32", "NonZeroU32", i32::MIN as f64, i32::MAX as f64),
    (
        "int32",
        "i32",
        "NonZeroU32",
        i32::MIN as f64,
        i32::MAX as f64,
    ),
    ("uint", "u32", "NonZeroU32", 0.0, u32::MAX as f64),
    ("uint32", "u32", "NonZeroU32", 0.0, u32::MAX as f64),
    (
        "int64",
        "i64",
        "NonZeroU64",
        i64::MIN as f64,
        i64::MAX as f64,
    ),
    ("uint64", "u64", "NonZeroU64", 0.0, u64::MAX as f64),
];

/// The range of a Rust integer type by name.
fn integer_range(rust: &str) -> Option<(f64, f64)> {
    INTEGERS.iter().find_map(|(_, ty, nz, lo, hi)| {
        if *ty == rust {
            Some((*lo, *hi))
        } else if *nz == rust {
            Some((1.0, *hi))
        } else {
            None
        }
    })
}

/// The scalar part of a schema, as read by both functions below.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) json_type: Option<String>,
    pub(crate) format: Option<String>,
    /// Lower bound and whether it is exclusive (3.0 spelling).
    pub(crate) minimum: Option<(f64, bool)>,
    pub(crate) maximum: Option<(f64, bool)>,
    pub(crate) multiple_of: Option<f64>,
    /// `maxLength`, `minLength` or `pattern` present.
    pub(crate) string_validation: bool,
}

impl Scalar {
    /// Reads a (normalized, 3.0-spelled) schema through `get`.
    pub(crate) fn read<'v>(get: impl Fn(&str) -> Option<&'v Value>) -> Scalar {
        let bound = |value: &str, exclusive: &str| {
            get(value)
                .and_then(Value::as_f64)
                .map(|v| (v, get(exclusive) == Some(&Value::Bool(true))))
        };
        Scalar {
            json_type: get("type").and_then(Value::as_str).map(str::to_owned),
            format: get("format").and_then(Value::as_str).map(str::to_owned),
            minimum: bound("minimum", "exclusiveMinimum"),
            maximum: bound("maximum", "exclusiveMaximum"),
            multiple_of: get("multipleOf").and_then(Value::as_f64),
            string_validation: ["maxLength", "minLength", "pattern"]
                .iter()
                .any(|k| get(k).is_some()),
        }
    }
}

/// The Rust type the client uses for a scalar schema (typify's choice), or
/// `None` for non-scalar schemas.
pub(crate) fn rust_type(s: &Scalar) -> Option<String> {
    let format = s.format.as_deref();
    match s.json_type.as_deref()? {
        "string" => Some(
            match format {
                Some("uuid") => "::uuid::Uuid",
                Some("date") => "::chrono::naive::NaiveDate",
                Some("date-time") => "::chrono::DateTime<::chrono::offset::Utc>",
                Some("ip") => "::std::net::IpAddr",
                Some("ipv4") => "::std::net::Ipv4Addr",
                Some("ipv6") => "::std::net::Ipv6Addr",
                _ if s.string_validation => "newtype",
                _ => "::std::string::String",
            }
            .to_owned(),
        ),
        "integer" => Some(integer_type(s)),
        "number" => Some(
            if format == Some("float") {
                "f32"
            } else {
                "f64"
            }
            .to_owned(),
        ),
        "boolean" => Some("bool".to_owned()),
        _ => None,
    }
}

/// typify's `convert_integer`: a known format whose range holds the bounds
/// wins; otherwise the bounds pick a type whose range they equal; else i64.
fn integer_type(s: &Scalar) -> String {
    let mut min = s.minimum.map(|(v, ex)| if ex { v + 1.0 } else { v });
    let mut max = s.maximum.map(|(v, ex)| if ex { v - 1.0 } else { v });
    let non_zero = |nz: &str| format!("::std::num::{nz}");
    if let Some(&(_, ty, nz, lo, hi)) = s
        .format
        .as_deref()
        .and_then(|f| INTEGERS.iter().find(|(name, ..)| *name == f))
    {
        let fits = min.is_none_or(|m| m >= lo) && max.is_none_or(|m| m <= hi);
        if s.multiple_of.is_none() && fits {
            return if min == Some(1.0) {
                non_zero(nz)
            } else {
                ty.to_owned()
            };
        }
        min = min.or(Some(lo));
        max = max.or(Some(hi));
    }
    let same = |a: f64, b: f64| (a - b).abs() <= f64::EPSILON;
    let found = match (min, max) {
        (None, Some(max)) => INTEGERS
            .iter()
            .rev()
            .find(|(.., hi)| same(*hi, max))
            .map(|(_, ty, ..)| ty.to_string()),
        (Some(min), None) => INTEGERS.iter().rev().find_map(|(_, ty, nz, lo, _)| {
            if min == 1.0 {
                Some(non_zero(nz))
            } else if same(*lo, min) {
                Some(ty.to_string())
            } else {
                None
            }
        }),
        (Some(min), Some(max)) => INTEGERS.iter().rev().find_map(|(_, ty, nz, lo, hi)| {
            if min == 1.0 {
                Some(non_zero(nz))
            } else if same(*hi, max) && same(*lo, min) {
                Some(ty.to_string())
            } else {
                None
            }
        }),
        (None, None) => None,
    };
    found.unwrap_or_else(|| "i64".to_owned())
}

/// The values a scalar schema declares.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    /// Strings, of one format when `Some`.
    Str(Option<String>),
    /// Integers in `[lo, hi]`.
    Int(f64, f64),
    /// Any number.
    Num,
    /// `true` / `false`.
    Bool,
}

/// The values `s` declares: its format's and its bounds' (integers).
pub(crate) fn values(s: &Scalar) -> Option<Values> {
    match s.json_type.as_deref()? {
        "string" => Some(Values::Str(s.format.clone())),
        "integer" => {
            // Without a known format the pipeline falls back to i64: every
            // client generated from either document assumes that range.
            let (mut lo, mut hi) = (i64::MIN as f64, i64::MAX as f64);
            if let Some(&(_, _, _, flo, fhi)) = s
                .format
                .as_deref()
                .and_then(|f| INTEGERS.iter().find(|(name, ..)| *name == f))
            {
                (lo, hi) = (flo, fhi);
            }
            if let Some((v, ex)) = s.minimum {
                lo = lo.max(if ex { v.floor() + 1.0 } else { v.ceil() });
            }
            if let Some((v, ex)) = s.maximum {
                hi = hi.min(if ex { v.ceil() - 1.0 } else { v.floor() });
            }
            Some(Values::Int(lo, hi))
        }
        "number" => Some(Values::Num),
        "boolean" => Some(Values::Bool),
        _ => None,
    }
}

/// Whether a value of Rust type `rust` can be read from every value in `v`.
pub(crate) fn holds(rust: &str, v: &Values) -> bool {
    match v {
        Values::Str(format) => {
            let format = format.as_deref();
            match rust {
                "::std::string::String" => true,
                // The newtype validates the old constraints; the bound rules
                // judge those, the format is free.
                "newtype" => true,
                "::uuid::Uuid" => format == Some("uuid"),
                "::chrono::naive::NaiveDate" => format == Some("date"),
                "::chrono::DateTime<::chrono::offset::Utc>" => format == Some("date-time"),
                "::std::net::IpAddr" => matches!(format, Some("ip" | "ipv4" | "ipv6")),
                "::std::net::Ipv4Addr" => format == Some("ipv4"),
                "::std::net::Ipv6Addr" => format == Some("ipv6"),
                _ => false,
            }
        }
        Values::Int(lo, hi) => match rust {
            "f32" | "f64" => true,
            other => {
                let name = other.trim_start_matches("::std::num::");
                integer_range(name).is_some_and(|(tlo, thi)| tlo <= *lo && *hi <= thi)
            }
        },
        Values::Num => matches!(rust, "f32" | "f64"),
        Values::Bool => rust == "bool",
    }
}

/// Whether a server that accepts `new` accepts every value in `old`.
pub(crate) fn accepts(new: &Values, old: &Values) -> bool {
    match (new, old) {
        (Values::Str(None), Values::Str(_)) => true,
        (Values::Str(Some(n)), Values::Str(Some(o))) => {
            n == o || (n == "ip" && matches!(o.as_str(), "ipv4" | "ipv6"))
        }
        (Values::Int(nlo, nhi), Values::Int(olo, ohi)) => nlo <= olo && ohi <= nhi,
        (Values::Num, Values::Int(..) | Values::Num) => true,
        (Values::Bool, Values::Bool) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scalar(schema: Value) -> Scalar {
        Scalar::read(|k| schema.get(k))
    }

    #[test]
    fn every_row_is_what_rust_type_computes() {
        for row in CLIENT_TYPES {
            let mut schema = json!({"type": row.json_type});
            if let Some(f) = row.format {
                schema["format"] = json!(f);
            }
            if let Some(m) = row.minimum {
                schema["minimum"] = json!(m);
            }
            assert_eq!(
                rust_type(&scalar(schema)).as_deref(),
                Some(row.rust),
                "{row:?}"
            );
        }
    }

    #[test]
    fn integer_bounds_decide_like_typify() {
        let t = |s: Value| rust_type(&scalar(s));
        assert_eq!(
            t(json!({"type": "integer", "format": "int32", "minimum": -5})).as_deref(),
            Some("i32")
        );
        // Out of the format's range: the bounds decide, here nothing fits.
        assert_eq!(
            t(json!({"type": "integer", "format": "uint8", "maximum": 1000})).as_deref(),
            Some("i64")
        );
        assert_eq!(
            t(json!({"type": "integer", "minimum": 0, "maximum": 255})).as_deref(),
            Some("u8")
        );
    }
}
